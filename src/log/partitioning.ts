// Where a record goes. A room's records all go to one partition — its id mod the partition count — so the room's
// order is the partition's order and a batch's offsets map back to its messages. Any other key goes by a stable
// hash. Both adapters place records with these, so a room has the same partition in embedded and cluster mode.

/** Partition of a room: roomId mod partitions. */
export function partitionFor(roomId: string, partitions: number): number {
  return Number(BigInt(roomId) % BigInt(partitions));
}

/** Partition of any key: a decimal id as partitionFor, anything else by FNV-1a (the same key, the same partition). */
export function partitionOfKey(key: string, partitions: number): number {
  if (/^\d{1,19}$/.test(key)) return partitionFor(key, partitions);
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h % partitions;
}
