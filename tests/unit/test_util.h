// Helpers shared by the unit tests: compile a snippet, look at its diagnostics, lower it.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "driver/driver.h"

namespace bloom::test {

inline std::unique_ptr<Compilation> compile(const std::string& text, CompileOptions opts = {}) {
  return compile_text("test.bloom", text, opts);
}

// The codes of all diagnostics of a severity, in order.
inline std::vector<std::string> codes(const Compilation& c, Severity s = Severity::Error) {
  std::vector<std::string> out;
  for (const auto& d : c.diags.all())
    if (d.severity == s) out.push_back(d.code);
  return out;
}

inline const Diagnostic* find_code(const Compilation& c, const std::string& code) {
  for (const auto& d : c.diags.all())
    if (d.code == code) return &d;
  return nullptr;
}

inline std::string all_messages(const Compilation& c) {
  std::string s;
  for (const auto& d : c.diags.all()) s += d.message + "\n";
  return s;
}

// The Plan IR of a snippet that must compile (a failed expectation and nullptr otherwise).
inline std::unique_ptr<plan::Program> plan_for(const std::string& text) {
  auto c = compile(text);
  EXPECT_TRUE(c->ok()) << all_messages(*c);
  if (!c->ok()) return nullptr;
  std::string error;
  auto p = plan_of(*c, error);
  EXPECT_NE(p, nullptr) << error;
  return p;
}

}  // namespace bloom::test
