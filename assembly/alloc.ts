// Block allocator for the FIB.
//
// Everything the FIB owns lives in linear memory above the module's static data:
//
//   __heap_base                                                     top      memory end
//   │ fixed regions (direct tables, short-route tables, I/O buffer) │ blocks… │ free     │
//
// Blocks are handed out in 8-byte granules with one free list per size up to MAX_BLOCK; a
// node block never exceeds that (see node.ts). Fixed regions are bump-allocated once and
// never freed. Memory grows a page at a time up to the maximum the host gave the memory
// (the card's RAM budget); when it cannot grow, alloc returns 0 and the caller refuses the
// change, leaving the table as it was.

/** Largest block served from the free lists, in bytes. */
export const MAX_BLOCK: u32 = 4096;

// Free-list heads, one per size class (size / 8), each the address of the first free block;
// a free block holds the address of the next in its first word.
const heads: usize = memory.data(4 * (MAX_BLOCK / 8 + 1));

let top: usize = 0;
let end: usize = 0;
let live: usize = 0;

/** Resets the allocator to an empty heap. Called once by init(). */
export function allocReset(): void {
  top = (__heap_base + 7) & ~(<usize>7);
  end = <usize>memory.size() << 16;
  live = 0;
  memory.fill(heads, 0, 4 * (MAX_BLOCK / 8 + 1));
}

@inline function roundUp(size: u32): u32 {
  return (size + 7) & ~7;
}

/** Allocates a block of at least `size` bytes (8-byte aligned, contents undefined); 0 if out of memory. */
export function alloc(size: u32): usize {
  size = roundUp(size);
  if (size <= MAX_BLOCK) {
    const head = heads + (size >> 1);
    const block = <usize>load<u32>(head);
    if (block != 0) {
      store<u32>(head, load<u32>(block));
      live += size;
      return block;
    }
  }
  return bump(size);
}

/** Allocates a zeroed region that is never freed; 0 if out of memory. */
export function allocFixed(size: u32): usize {
  const p = bump(roundUp(size));
  if (p != 0) memory.fill(p, 0, roundUp(size));
  return p;
}

function bump(size: u32): usize {
  const p = top;
  const newTop = p + size;
  if (newTop > end) {
    const pages = <i32>((newTop - end + 0xffff) >>> 16);
    if (memory.grow(pages) < 0) return 0;
    end += <usize>pages << 16;
  }
  top = newTop;
  live += size;
  return p;
}

/** Returns a block of `size` bytes (as passed to alloc, or a tail split off one) to its free list. */
export function free(block: usize, size: u32): void {
  size = roundUp(size);
  if (size == 0) return;
  live -= size;
  if (size <= MAX_BLOCK) {
    const head = heads + (size >> 1);
    store<u32>(block, load<u32>(head));
    store<u32>(head, <u32>block);
  }
  // Larger blocks are only fixed regions, which are never freed.
}

/** Bytes in blocks and regions currently allocated. */
export function liveBytes(): usize {
  return live;
}

/** Bytes between the heap base and the bump pointer: live bytes plus free-list slack. */
export function heapBytes(): usize {
  return top - __heap_base;
}
