/** Where embedded mode keeps its state when not told: `.weft` in the working directory. */
export const DEFAULT_EMBEDDED_DIR = ".weft";
