/**
 * Small text renderings used by `ls`; the RAM bar lives in src/view/ (the demo's view uses it too,
 * and src/sim/ must not import from src/cli/).
 */
export { ramBar } from '../view/ram-bar.js';
