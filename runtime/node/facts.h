// Facts files in Souffle's conventions: NAME.facts in, NAME.csv out, one tuple a line, columns
// separated by tabs, strings unquoted.
#pragma once
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/lattice.h"
#include "plan/ir.h"

namespace bloom::rt {

// A facts file that cannot be read: the message starts with file:line:column.
struct FactsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Parses one field as a value of column type `t` (lattice columns take their element, lifted;
// an lmap column takes a whole map, `{"a": 3, "b": 5}`, as -D writes it).
// Returns false with `expected` set ("an int", ...) when the text does not parse.
bool parse_field(std::string_view text, const plan::ValueType& t, Lattices& lattices, Word& out, std::string& expected);

// Reads `path` as tuples of `rel`, calling `row(values, line)` for each. Blank lines are skipped
// (a nullary relation holds its tuple if the file has any line). Throws FactsError.
void read_facts(const std::string& path, const plan::Relation& rel, Lattices& lattices,
                const std::function<void(const Word*, size_t line)>& row);

// Writes `text` to `path` atomically (a temporary file renamed over it), so a failed run never
// leaves a half-written file. Throws std::runtime_error naming the path.
void write_file_atomically(const std::string& path, const std::string& text);
void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write);

}  // namespace bloom::rt
