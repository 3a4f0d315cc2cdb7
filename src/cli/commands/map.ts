/**
 * `tsbpf map list` and `tsbpf map dump <id|pinned path>`: maps on the host, like bpftool's,
 * with dumps decoded through the map's BTF (from the kernel) when it has one.
 */
import type { Command } from "commander";
import { mapTypeById } from "../../abi/map-types.js";
import type { Btf } from "../../elf/btf/btf.js";
import { btfFromBytes } from "../../elf/btf/load.js";
import { UsageError } from "../../errors.js";
import { btfData, fdById, ids, mapInfo, objGet } from "../../loader/bpf.js";
import { BpfSyscallError } from "../../loader/errors.js";
import type { Fd } from "../../loader/fd.js";
import type { MapInfo } from "../../loader/info.js";
import { LiveMap } from "../../loader/object-map.js";
import { toJsonValue } from "../../loader/values.js";
import type { CliIo } from "../io.js";
import { dumpMap, formatMapDump, withPermissionHint } from "./load.js";

export function listMaps(): MapInfo[] {
  const out: MapInfo[] = [];
  for (const id of ids("map")) {
    try {
      using fd = fdById("map", id);
      out.push(mapInfo(fd));
    } catch (e) {
      if (e instanceof BpfSyscallError && e.errnoName === "ENOENT") continue;
      throw e;
    }
  }
  return out;
}

const typeName = (t: number): string => mapTypeById(t)?.name ?? `type ${t}`;

export function formatMap(m: MapInfo): string {
  const lines = [`${m.id}: ${typeName(m.type)}  name ${m.name}  flags 0x${m.flags.toString(16)}`];
  lines.push(`\tkey ${m.keySize}B  value ${m.valueSize}B  max_entries ${m.maxEntries}`);
  if (m.btfId) lines.push(`\tbtf_id ${m.btfId}`);
  return `${lines.join("\n")}\n`;
}

/** Open a map by id (digits) or pinned path. */
export function openMap(ref: string): Fd {
  try {
    if (/^\d+$/.test(ref)) return fdById("map", Number(ref));
    return objGet(ref);
  } catch (e) {
    if (e instanceof BpfSyscallError && e.errnoName === "ENOENT")
      throw new UsageError(
        "E_NO_MAP",
        /^\d+$/.test(ref) ? `no map with id ${ref}` : `no pinned object at '${ref}'`,
      );
    throw e;
  }
}

function mapBtf(info: MapInfo): Btf | undefined {
  if (!info.btfId) return undefined;
  try {
    using fd = fdById("btf", info.btfId);
    return btfFromBytes(btfData(fd));
  } catch {
    // Split BTF (module/kernel types) or unreadable: dump raw bytes then.
    return undefined;
  }
}

export function liveMapOf(fd: Fd): LiveMap {
  const info = mapInfo(fd);
  const btf = mapBtf(info);
  return new LiveMap({
    name: info.name,
    fd,
    type: info.type,
    keySize: info.keySize,
    valueSize: info.valueSize,
    maxEntries: info.maxEntries,
    flags: info.flags,
    btf,
    keyTypeId: info.btfKeyTypeId,
    valueTypeId: info.btfValueTypeId,
  });
}

export function registerMap(program: Command, io: CliIo): void {
  const map = program.command("map").description("maps on the host (like bpftool map)");
  const fmt = (f: string): string => {
    if (f !== "text" && f !== "json")
      throw new UsageError("E_USAGE", `--format must be text or json, not '${f}'`);
    return f;
  };
  map
    .command("list")
    .alias("show")
    .description("list maps")
    .option("--format <format>", "text or json", "text")
    .action(async (o: { format: string }) => {
      const f = fmt(o.format);
      const list = await withPermissionHint(() => listMaps());
      io.stdout(
        f === "json"
          ? `${JSON.stringify(
              list.map((m) => ({
                id: m.id,
                type: typeName(m.type),
                name: m.name,
                flags: m.flags,
                bytes_key: m.keySize,
                bytes_value: m.valueSize,
                max_entries: m.maxEntries,
                btf_id: m.btfId,
              })),
            )}\n`
          : list.map(formatMap).join(""),
      );
    });
  map
    .command("dump")
    .description("dump a map's entries, decoded through its BTF")
    .argument("<map>", "map id or pinned path")
    .option("--format <format>", "text or json", "text")
    .action(async (ref: string, o: { format: string }) => {
      const f = fmt(o.format);
      using m = await withPermissionHint(() => liveMapOf(openMap(ref)));
      const d = dumpMap(m, typeName(m.type));
      if (f === "json")
        io.stdout(
          `${JSON.stringify({
            name: d.name,
            type: d.type,
            ...(d.note ? { note: d.note } : {}),
            entries: (d.entries ?? []).map((e) => ({ key: toJsonValue(e.key), value: toJsonValue(e.value) })),
          })}\n`,
        );
      else io.stdout(formatMapDump(d));
    });
}
