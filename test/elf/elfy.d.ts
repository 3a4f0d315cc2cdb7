/** The part of npm `elfy` (no bundled types) that the cross-check test uses. */
declare module "elfy" {
  interface ElfySection {
    name: string;
    type: string | number;
    off: number;
    size: number;
    data: Buffer;
  }
  interface ElfyFile {
    body: { sections: ElfySection[] };
  }
  const elfy: {
    parse(buf: Buffer): ElfyFile;
    constants: { sectType: Record<number, string> };
  };
  export default elfy;
}
