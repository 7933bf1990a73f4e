/** The package version, reported by node.info and `signpost --version`. */
export const VERSION = '0.1.0';
