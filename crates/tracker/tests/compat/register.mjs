// `node --import ./register.mjs script.mjs`: installs hooks.mjs before the script loads.
import { register } from 'node:module'
register('./hooks.mjs', import.meta.url)
