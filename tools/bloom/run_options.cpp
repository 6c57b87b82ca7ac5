// The options of `bloom run`, shared by `bloom run` and the binaries `bloom build` makes.
#include <CLI/CLI.hpp>

#include "run_command.h"

namespace bloom::cli {

void add_run_options(CLI::App* run, RunOptions& ro) {
  run->add_option("-F,--facts", ro.facts_dir, "Read each input NAME from DIR/NAME.facts (tab-separated) into tick 0")->type_name("DIR");
  run->add_option("-D,--output-dir", ro.out_dir,
                  "Write each output NAME to DIR/NAME.csv (tab-separated, sorted); with --data-dir, as ticks complete")
      ->type_name("DIR");
  run->add_option("--data-dir", ro.data_dir, "Keep the durable tables in DIR and recover them from it (docs/deploy.md)")->type_name("DIR");
  run->add_flag("--sizes", ro.sizes, "Print only `NAME<TAB>COUNT` per output (instead of the tuples)");
  run->add_option("--param", ro.params, "Set a param: NAME=VALUE")->type_name("NAME=VALUE");
  run->add_option("--max-ticks", ro.max_ticks, "Stop after N ticks even if work is pending")->type_name("N")->check(CLI::NonNegativeNumber);
  run->add_option("--name", ro.name, "This node's addr (what self() returns)")->capture_default_str();
  run->add_flag("-q,--quiet", ro.quiet, "No progress line and no notes on stderr");
  run->add_option("--color", ro.color, "Colour the diagnostics")->check(CLI::IsMember({"auto", "always", "never"}))->capture_default_str();
}

}  // namespace bloom::cli
