// What a binary made by `bloom build` holds besides the runtime (docs/jit.md, "bloom build"):
// the rules' segments compiled ahead of time, each with the key the engine asks for it by
// (segment_key, jit/supported.h), and the program itself. The JIT writes these symbols into the
// object it makes (compile_aot, jit/segment_jit.h); the built binary's runner reads them. No
// LLVM here: the runner never loads it.
#pragma once
#include <cstdint>

#include "eval/native.h"

extern "C" {

struct BloomAotSegment {
  const char* key;  // segment_key of the segment, key_size bytes
  uint64_t key_size;
  bloom::rt::SegmentFn fn;
};
}

namespace bloom::rt::jit {

// The symbols' names (extern "C"): the table of segments and its length, the program's bytes
// and their number.
inline constexpr const char* kAotSegments = "bloom_aot_segments";
inline constexpr const char* kAotSegmentCount = "bloom_aot_segment_count";
inline constexpr const char* kAotProgram = "bloom_aot_program";
inline constexpr const char* kAotProgramSize = "bloom_aot_program_size";

}  // namespace bloom::rt::jit
