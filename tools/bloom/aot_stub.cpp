// The table of a binary with nothing compiled and no program (jit/aot_table.h): the build links
// `bloom-runner-stub` with it, to check that the runner links and to learn which shared
// libraries it needs (link_manifest.cmake). `bloom build` links its own table instead.
#include "jit/aot_table.h"

extern "C" {
extern const BloomAotSegment bloom_aot_segments[];
extern const uint64_t bloom_aot_segment_count;
extern const char bloom_aot_program[];
extern const uint64_t bloom_aot_program_size;
}

const BloomAotSegment bloom_aot_segments[1] = {};
const uint64_t bloom_aot_segment_count = 0;
const char bloom_aot_program[1] = {0};
const uint64_t bloom_aot_program_size = 0;
