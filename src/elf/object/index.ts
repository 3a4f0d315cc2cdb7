/** The object model: an ELF object file to an ObjectSpec (programs, maps, globals, externs). */
export { OBJECT_ERROR } from "./context.js";
export { internalMapName } from "./maps.js";
export { objectFromElf, objectNameOf, openObject, openObjectSync } from "./open.js";
export * from "./types.js";
