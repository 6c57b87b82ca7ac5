// `bloom build`'s pieces without a link (docs/jit.md): the embedded program's encoding, the
// segments an engine hands over before it runs (Engine::prepare_all_rules), and segment keys.
#include <gtest/gtest.h>

#include "driver/driver.h"
#include "embedded_program.h"
#include "eval/engine.h"
#include "jit/supported.h"
#include "segment_recorder.h"

namespace bloom {
namespace {

TEST(EmbeddedProgram, RoundTrips) {
  cli::EmbeddedProgram p;
  p.main = "dir/main.bloom";
  p.files["dir/main.bloom"] = "import \"lib/m.bloom\" as m;\n";
  p.files["dir/lib/m.bloom"] = std::string("a\0b\n12\n", 7);  // any bytes, newlines and digits included
  p.params = {"limit=5", "m.factor=x=y"};
  p.stdlib_dir = "/usr/share/bloom/stdlib";
  auto q = cli::decode(cli::encode(p));
  ASSERT_TRUE(q);
  EXPECT_EQ(q->main, p.main);
  EXPECT_EQ(q->files, p.files);
  EXPECT_EQ(q->params, p.params);
  EXPECT_EQ(q->stdlib_dir, p.stdlib_dir);
}

TEST(EmbeddedProgram, DamagedIsRefused) {
  cli::EmbeddedProgram p;
  p.main = "m.bloom";
  p.files["m.bloom"] = "table t(x: int);\n";
  const std::string bytes = cli::encode(p);
  EXPECT_FALSE(cli::decode(""));
  EXPECT_FALSE(cli::decode("garbage"));
  for (size_t cut = 0; cut < bytes.size(); ++cut) EXPECT_FALSE(cli::decode(bytes.substr(0, cut))) << "cut at " << cut;
  EXPECT_FALSE(cli::decode(bytes + "x"));
  std::string huge = bytes;
  huge.replace(huge.find("7\nm.bloom"), 1, "99999999999999999999");
  EXPECT_FALSE(cli::decode(huge));
}

TEST(PrepareAllRules, HandsOverTheDeltaVariantsSegments) {
  // p's rule runs incrementally across ticks: a variant per body atom, driven by its new rows.
  auto c = compile_text("p.bloom",
                        "input e(a: int, b: int);\n"
                        "table t(a: int, b: int);\n"
                        "table u(a: int, b: int);\n"
                        "table p(a: int, b: int);\n"
                        "t(a, b) <= e(a, b), a < b;\n"
                        "u(a, b * 2) <= e(a, b);\n"
                        "p(a, c + 1) <= t(a, b), u(b, c), a < c;\n");
  ASSERT_TRUE(c->ok());
  std::string error;
  auto plan = plan_of(*c, error);
  ASSERT_TRUE(plan) << error;
  rt::SymbolTable symbols;
  rt::Lattices lattices(symbols);
  cli::SegmentRecorder rec;  // what bloom build collects
  rt::Engine engine(*plan, symbols, lattices, &rec);
  const size_t before = rec.specs().size();
  EXPECT_GE(before, 2u);  // the two rules' filters and heads
  engine.prepare_all_rules();
  EXPECT_GT(rec.specs().size(), before);  // the recursive rule's delta variant
  const size_t after = rec.specs().size();
  engine.prepare_all_rules();  // once only
  EXPECT_EQ(rec.specs().size(), after);
  for (const auto& spec : rec.specs()) {
    std::string k = rt::jit::segment_key(spec);
    EXPECT_EQ(k.rfind("R", 0), 0u) << k;
  }
}

}  // namespace
}  // namespace bloom
