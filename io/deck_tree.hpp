// Internal to io::Deck: a YAML document as a tree that remembers where each value came from
// (the deck file or a --set override), --set overrides applied to that tree, and MapReader,
// which checks one mapping against the keys a schema block declares.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/deck.hpp"

namespace kollektiv::io::deck_detail {

// Where a value was written. source 0 is the deck file, source k >= 1 the k-th override.
struct Mark {
  int source = 0;
  int line = 1;    // 1-based
  int column = 1;  // 1-based
};

struct Entry;

struct Node {
  enum class Kind { null, scalar, sequence, mapping };
  Kind kind = Kind::null;
  std::string text;            // scalar text as written (quotes removed)
  std::vector<Node> items;     // sequence
  std::vector<Entry> entries;  // mapping, in document order (duplicates kept, reported later)
  Mark mark;

  const Node* find(std::string_view key) const;
  Node* find(std::string_view key);
};

struct Entry {
  std::string key;
  Mark key_mark;
  Node value;
};

// "'text'", "nothing", "a mapping" or "a sequence": the "found ..." half of a message.
std::string describe_found(const Node& node);

// The error list of one parse. Errors are sorted by position when taken out, so the order in
// which the schema happens to check things never shows.
class Errors {
 public:
  explicit Errors(std::string file) : file_(std::move(file)) {}

  void add(const Mark& at, std::string key_path, std::string message);
  // An error in another file (a robot file the deck refers to), sorted as if at `sort_at`.
  void add_external(const Mark& sort_at, DeckError error);
  bool empty() const { return records_.empty(); }
  std::string where(const Mark& at) const;  // "FILE:LINE:COL"
  std::vector<DeckError> sorted() const;

 private:
  struct Record {
    Mark mark;
    DeckError error;
  };
  std::string file_;
  std::vector<Record> records_;
};

// The most YAML nodes (scalars, sequences, mappings; every alias expanded) a deck may hold:
// far beyond any real deck (lines and stations repeat with `count`), small enough that
// every rank can hold the tree.
inline constexpr std::int64_t max_deck_nodes = 500'000;

// Parses YAML text into a tree (at most max_deck_nodes nodes, else an error). `source` and `column_offset` (0-based) place the text: the
// deck file is source 0 at offset 0; an override value is source k at the column of its
// first character. A syntax error is added to `errors` under `key_path` and nullopt returned.
std::optional<Node> load_yaml(const std::string& text, int source, int column_offset,
                              const std::string& key_path, Errors& errors);

// Applies the override `text` ("key.path=value", the `source`-th one) to `root`, creating
// the mappings the path needs. Path problems go to `errors`; unknown keys are left in the
// tree for the schema to report like unknown keys in the file.
void apply_override(Node& root, const std::string& text, int source, Errors& errors);

// The candidate closest to `word` in optimal-string-alignment distance, if it is close
// enough to be a plausible typo (distance <= 2, and <= 1 for words of up to 5 letters).
std::optional<std::string> closest_match(std::string_view word,
                                         const std::vector<std::string>& candidates);

// Shortest text that reads back as exactly `value`.
std::string format_real(double value);

// Ranges: they check a value and describe themselves for "expected ..." messages.
struct IntRange {
  std::int64_t lo = 0;
  std::int64_t hi = std::numeric_limits<std::int64_t>::max();
  bool contains(std::int64_t v) const { return v >= lo && v <= hi; }
  std::string describe() const;  // "a non-negative integer", "an integer in [1, 1000]"
};

struct RealRange {
  double lo = 0.0;
  bool lo_open = true;
  double hi = std::numeric_limits<double>::infinity();
  bool hi_open = true;
  bool seconds = false;  // the value is a duration: "a number of seconds > 0"
  bool contains(double v) const;
  std::string describe() const;
};

std::optional<std::int64_t> parse_integer(const std::string& text);
std::optional<double> parse_real(const std::string& text);  // finite decimal numbers only
std::optional<bool> parse_bool(const std::string& text);   // true/false (YAML 1.2 core)

// Reads one mapping of the deck. Each getter declares a key, reads and checks its value (or
// takes the default, or reports the key missing when it is required), and writes the
// resolved value into `out`, in declaration order, for resolved_yaml. finish() then reports
// every key that no getter declared. A getter returns nullopt when the value is missing or
// wrong; the caller may carry on with any fallback because the parse has failed anyway.
class MapReader {
 public:
  // `node` may be null (the block is absent: every key takes its default); a null YAML node
  // reads as an empty mapping. `where` locates "missing required key" errors.
  MapReader(Errors& errors, const Node* node, Mark where, std::string path, YAML::Node out);

  bool valid() const { return valid_; }  // the node was a mapping (or absent)
  const std::string& path() const { return path_; }
  std::string path_of(std::string_view key) const;
  const Mark& where() const { return where_; }
  Errors& errors() const { return errors_; }
  YAML::Node out() const { return out_; }

  std::optional<std::int64_t> integer(std::string_view key, const IntRange& range,
                                      std::optional<std::int64_t> fallback);
  std::optional<double> real(std::string_view key, const RealRange& range,
                             std::optional<double> fallback);
  std::optional<bool> boolean(std::string_view key, std::optional<bool> fallback);
  // A name: non-empty, without '#' (replica suffix) or '/' (HDF5 path separator).
  std::optional<std::string> name(std::string_view key);
  std::optional<std::string> string(std::string_view key, std::optional<std::string> fallback);
  // One of `options`; returns its index.
  std::optional<std::size_t> choice(std::string_view key, const std::vector<std::string>& options,
                                    std::optional<std::size_t> fallback);

  // Any scalar value with its own parser. `parse` returns nullopt for a bad value; `print`
  // gives the resolved text.
  template <class T>
  std::optional<T> scalar(std::string_view key, const std::string& expected,
                          const std::function<std::optional<T>(const std::string&)>& parse,
                          const std::function<std::string(const T&)>& print,
                          std::optional<T> fallback) {
    const Node* node = get(key, !fallback.has_value());
    if (node == nullptr) {
      if (fallback && valid_) out_[std::string(key)] = print(*fallback);
      return fallback;
    }
    std::optional<T> value = convert<T>(key, *node, expected, parse);
    if (value) out_[std::string(key)] = print(*value);
    return value;
  }

  // Checks `node`, the value of `key`, with `parse`; reports a mismatch.
  template <class T>
  std::optional<T> convert(std::string_view key, const Node& node, const std::string& expected,
                           const std::function<std::optional<T>(const std::string&)>& parse) {
    std::optional<T> value;
    if (node.kind == Node::Kind::scalar) value = parse(node.text);
    if (!value) mismatch(key, node, expected);
    return value;
  }

  // A sequence of scalars under `key`, each checked with `parse` (an item error names its
  // index), with min_count..max_count items; `expected` describes the whole list ("a list
  // of 3 numbers"). Written to the output as a flow sequence.
  template <class T>
  std::optional<std::vector<T>> list(std::string_view key, const std::string& expected, const std::string& item_expected,
                                     const std::function<std::optional<T>(const std::string&)>& parse,
                                     const std::function<std::string(const T&)>& print, std::size_t min_count,
                                     std::size_t max_count, std::optional<std::vector<T>> fallback) {
    const Node* node = get(key, !fallback.has_value());
    std::optional<std::vector<T>> value;
    if (node == nullptr) {
      value = std::move(fallback);
    } else if (node->kind != Node::Kind::sequence || node->items.size() < min_count ||
               node->items.size() > max_count) {
      const std::string found = node->kind == Node::Kind::sequence && !node->items.empty()
                                    ? "a list of " + std::to_string(node->items.size())
                                    : describe_found(*node);
      error(node->mark, key, "expected " + expected + ", found " + found);
      return std::nullopt;
    } else {
      std::vector<T> items;
      for (std::size_t i = 0; i < node->items.size(); ++i) {
        const Node& item = node->items[i];
        std::optional<T> v;
        if (item.kind == Node::Kind::scalar) v = parse(item.text);
        if (!v) {
          error(item.mark, std::string(key) + "." + std::to_string(i),
                "expected " + item_expected + ", found " + describe_found(item));
          continue;
        }
        items.push_back(*v);
      }
      if (items.size() != node->items.size()) return std::nullopt;
      value = std::move(items);
    }
    if (value && valid_) {
      YAML::Node seq(YAML::NodeType::Sequence);
      seq.SetStyle(YAML::EmitterStyle::Flow);
      for (const T& v : *value) seq.push_back(print(v));
      out_[std::string(key)] = seq;
    }
    return value;
  }
  std::optional<std::vector<double>> reals(std::string_view key, const RealRange& range, std::size_t min_count,
                                           std::size_t max_count, std::optional<std::vector<double>> fallback);
  std::optional<std::vector<std::int64_t>> integers(std::string_view key, const IntRange& range,
                                                    std::size_t min_count, std::size_t max_count,
                                                    std::optional<std::vector<std::int64_t>> fallback);

  // An optional key without a default (one of two alternatives, say): its checked value, or
  // nullopt when it is absent or wrong. Writes nothing to the output; the caller does.
  std::optional<double> real_if_present(std::string_view key, const RealRange& range);
  std::optional<std::int64_t> integer_if_present(std::string_view key, const IntRange& range);

  // The mapping under `key`: a reader for it (absent and optional: an empty one; absent and
  // required: reported, and an invalid reader).
  MapReader mapping(std::string_view key, bool required);
  // The items of the non-empty sequence under `key` (nullptr, reported, when it is missing,
  // not a sequence or empty), and the resolved sequence to append their output to.
  const Node* sequence(std::string_view key, bool required, YAML::Node& out_items);
  // A reader for item `index` of a sequence returned by sequence().
  MapReader item(std::string_view key, const Node& sequence, std::size_t index, YAML::Node out_items);

  // Declares a key without reading it, returns its value node (nullptr when absent).
  const Node* get(std::string_view key, bool required);
  bool has(std::string_view key) const;
  // The value of `key` without declaring it (nullptr when absent).
  const Node* peek(std::string_view key) const;
  // "expected <expected>, found <what the node holds>" at the node.
  void mismatch(std::string_view key, const Node& value, const std::string& expected);
  void error(const Mark& at, std::string_view key, std::string message);

  // Reports undeclared keys. `explain` may supply a better message for a key (for keys that
  // belong to another variant of the block); otherwise "unknown key" with a did-you-mean.
  void finish(const std::function<std::optional<std::string>(const std::string&)>& explain = {});

 private:
  Errors& errors_;
  const Node* node_;
  Mark where_;
  std::string path_;
  YAML::Node out_;
  bool valid_ = true;
  std::vector<std::string> declared_;
};

}  // namespace kollektiv::io::deck_detail
