// The only place the vendored UI library is imported: Preact's core and htm (tagged templates
// instead of JSX, so the browser runs these files as they are, with no build step). Preact's
// hooks module imports the bare specifier "preact", which a browser cannot resolve without an
// inline import map (refused by the console's CSP), so views are class components.
import { h, render, Component, Fragment } from '../vendor/preact/dist/preact.mjs';
import htm from '../vendor/htm/dist/htm.mjs';

export const html = htm.bind(h);
export { h, render, Component, Fragment };
