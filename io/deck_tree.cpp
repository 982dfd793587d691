// The position-keeping YAML tree of a deck, --set overrides, and the generic mapping reader.
#include "io/deck_tree.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <system_error>

namespace kollektiv::io::deck_detail {

const Node* Node::find(std::string_view key) const {
  for (const Entry& e : entries) {
    if (e.key == key) return &e.value;
  }
  return nullptr;
}

Node* Node::find(std::string_view key) {
  for (Entry& e : entries) {
    if (e.key == key) return &e.value;
  }
  return nullptr;
}

std::string describe_found(const Node& node) {
  switch (node.kind) {
    case Node::Kind::null: return "nothing";
    case Node::Kind::scalar: return "'" + node.text + "'";
    case Node::Kind::sequence: return node.items.empty() ? "an empty sequence" : "a sequence";
    case Node::Kind::mapping: return node.entries.empty() ? "an empty mapping" : "a mapping";
  }
  return "nothing";
}

// ---------------------------------------------------------------------------------------
// Errors

void Errors::add(const Mark& at, std::string key_path, std::string message) {
  DeckError e;
  e.file = at.source == 0 ? file_ : "--set";
  e.line = at.line;
  e.column = at.column;
  e.key_path = std::move(key_path);
  e.message = std::move(message);
  records_.push_back({at, std::move(e)});
}

void Errors::add_external(const Mark& sort_at, DeckError error) { records_.push_back({sort_at, std::move(error)}); }

std::string Errors::where(const Mark& at) const {
  return (at.source == 0 ? file_ : std::string("--set")) + ":" + std::to_string(at.line) + ":" +
         std::to_string(at.column);
}

std::vector<DeckError> Errors::sorted() const {
  std::vector<Record> records = records_;
  // Stable: two errors at one position keep the order in which they were found.
  std::stable_sort(records.begin(), records.end(), [](const Record& a, const Record& b) {
    if (a.mark.source != b.mark.source) return a.mark.source < b.mark.source;
    if (a.mark.line != b.mark.line) return a.mark.line < b.mark.line;
    return a.mark.column < b.mark.column;
  });
  std::vector<DeckError> out;
  out.reserve(records.size());
  for (Record& r : records) out.push_back(std::move(r.error));
  return out;
}

// ---------------------------------------------------------------------------------------
// YAML text -> tree

namespace {

Mark to_mark(const YAML::Mark& m, int source, int column_offset) {
  Mark out;
  out.source = source;
  // yaml-cpp marks are 0-based and -1 for an empty document.
  out.line = m.line < 0 ? 1 : m.line + 1;
  out.column = m.column < 0 ? 1 : m.column + 1;
  if (source != 0) {
    // An override is one line of the command line: a position past the first line of its
    // value (the end of the input, say) is reported at the start of the value.
    if (m.line > 0) out.column = 1;
    out.line = 1;
  }
  out.column += column_offset;
  return out;
}

// Deeper than any deck needs; a recursive alias (`a: &x [*x]`) would otherwise recurse
// until the stack runs out.
constexpr int max_depth = 64;

struct TooDeep {
  YAML::Mark mark;
};

// yaml-cpp shares an aliased node; the tree here copies it at every alias, so a few hundred
// bytes of nested aliases (a "billion laughs") would expand to gigabytes on every rank.
// Counting nodes as they are made bounds the expansion before it allocates.
struct TooLarge {
  YAML::Mark mark;
};

struct Budget {
  std::int64_t nodes_left = max_deck_nodes;
};

Node convert(const YAML::Node& y, int source, int column_offset, Budget& budget, int depth = 0) {
  if (depth > max_depth) throw TooDeep{y.Mark()};
  if (--budget.nodes_left < 0) throw TooLarge{y.Mark()};
  Node n;
  n.mark = to_mark(y.Mark(), source, column_offset);
  switch (y.Type()) {
    case YAML::NodeType::Scalar:
      n.kind = Node::Kind::scalar;
      n.text = y.Scalar();
      break;
    case YAML::NodeType::Sequence:
      n.kind = Node::Kind::sequence;
      for (const auto& item : y) n.items.push_back(convert(item, source, column_offset, budget, depth + 1));
      break;
    case YAML::NodeType::Map:
      n.kind = Node::Kind::mapping;
      for (const auto& kv : y) {
        Entry e;
        // A key that is itself a mapping or sequence cannot match any schema key; its
        // scalar text is empty, which is reported as an unknown key.
        e.key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
        e.key_mark = to_mark(kv.first.Mark(), source, column_offset);
        e.value = convert(kv.second, source, column_offset, budget, depth + 1);
        // yaml-cpp places an empty value at the next token, often lines later: point at
        // its key instead.
        if (e.value.kind == Node::Kind::null) e.value.mark = e.key_mark;
        n.entries.push_back(std::move(e));
      }
      break;
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      n.kind = Node::Kind::null;
      break;
  }
  return n;
}

}  // namespace

std::optional<Node> load_yaml(const std::string& text, int source, int column_offset,
                              const std::string& key_path, Errors& errors) {
  try {
    Budget budget;
    return convert(YAML::Load(text), source, column_offset, budget);
  } catch (const TooLarge& e) {
    errors.add(to_mark(e.mark, source, column_offset), key_path,
               "expected at most " + std::to_string(max_deck_nodes) +
                   " YAML nodes with aliases expanded, found more (nested aliases that multiply?)");
  } catch (const YAML::ParserException& e) {
    errors.add(to_mark(e.mark, source, column_offset), key_path, "invalid YAML: " + e.msg);
  } catch (const YAML::Exception& e) {
    errors.add(to_mark(e.mark, source, column_offset), key_path, "invalid YAML: " + e.msg);
  } catch (const TooDeep& e) {
    errors.add(to_mark(e.mark, source, column_offset), key_path,
               "expected at most " + std::to_string(max_depth) + " levels of nesting, found more (a recursive alias?)");
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------
// --set overrides

namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

void apply_override(Node& root, const std::string& text, int source, Errors& errors) {
  const auto at = [source](std::size_t index0) { return Mark{source, 1, static_cast<int>(index0) + 1}; };
  const std::size_t eq = text.find('=');
  if (eq == std::string::npos) {
    errors.add(at(text.size()), text, "expected 'key.path=value', found no '='");
    return;
  }
  if (eq == 0) {
    errors.add(at(0), "", "expected a key path before '=', found nothing");
    return;
  }
  const std::string path = text.substr(0, eq);

  // Split into segments, remembering where each starts for error columns.
  std::vector<std::pair<std::string, std::size_t>> segments;
  for (std::size_t start = 0;;) {
    const std::size_t dot = path.find('.', start);
    const std::size_t end = dot == std::string::npos ? path.size() : dot;
    segments.emplace_back(path.substr(start, end - start), start);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  std::string walked;  // the key path up to the current segment
  for (const auto& [segment, column] : segments) {
    if (segment.empty()) {
      errors.add(at(column), walked, "expected a key, found an empty path segment");
      return;
    }
    walked += (walked.empty() ? "" : ".") + segment;
  }
  walked.clear();

  std::optional<Node> value = load_yaml(text.substr(eq + 1), source, static_cast<int>(eq) + 1, path, errors);
  if (!value) return;
  if (value->kind == Node::Kind::null) value->mark = at(eq + 1);

  if (root.kind == Node::Kind::null) {
    root.kind = Node::Kind::mapping;  // an empty deck: the override starts the document
  } else if (root.kind != Node::Kind::mapping) {
    return;  // the schema reports the deck itself as the wrong kind of value
  }
  Node* cur = &root;
  std::size_t cur_column = 0;  // where the path segment naming `cur` starts
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const auto& [segment, column] = segments[i];
    const bool last = i + 1 == segments.size();
    walked += (walked.empty() ? "" : ".") + segment;
    Node* next = nullptr;
    if (cur->kind == Node::Kind::sequence) {
      const std::size_t n = cur->items.size();
      if (!all_digits(segment) || segment.size() > 9 || std::stoul(segment) >= n) {
        errors.add(at(column), walked,
                   n == 0 ? "expected no index (the sequence is empty), found '" + segment + "'"
                          : "expected an index in [0, " + std::to_string(n - 1) + "], found '" +
                                segment + "'");
        return;
      }
      next = &cur->items[std::stoul(segment)];
    } else {
      if (cur->kind != Node::Kind::mapping) {
        // Setting a key inside a scalar: the scalar becomes a mapping, which the schema then
        // reports as the wrong kind of value, at the override.
        *cur = Node{};
        cur->kind = Node::Kind::mapping;
        cur->mark = at(cur_column);
      }
      next = cur->find(segment);
      if (next == nullptr) {
        Entry e;
        e.key = segment;
        e.key_mark = at(column);
        e.value.kind = Node::Kind::mapping;
        e.value.mark = at(column);
        cur->entries.push_back(std::move(e));
        next = &cur->entries.back().value;
      }
    }
    if (last) {
      *next = std::move(*value);
    }
    cur = next;
    cur_column = column;
  }
}

// ---------------------------------------------------------------------------------------
// Did you mean

namespace {

// Optimal string alignment distance: Levenshtein plus adjacent transpositions, so the
// common typo "mtfb" is one edit from "mtbf".
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

std::optional<std::string> closest_match(std::string_view word,
                                         const std::vector<std::string>& candidates) {
  // Short words are one edit away from too many others to suggest on two.
  const std::size_t limit = word.size() <= 5 ? 1 : 2;
  std::optional<std::string> best;
  std::size_t best_distance = limit + 1;
  for (const std::string& c : candidates) {
    const std::size_t dist = edit_distance(word, c);
    if (dist < best_distance) {
      best_distance = dist;
      best = c;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------------------
// Scalars and ranges

std::string format_real(double value) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, r.ptr);
}

std::optional<std::int64_t> parse_integer(const std::string& text) {
  std::string_view s = text;
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty() || !(all_digits(s) || (s.front() == '-' && all_digits(s.substr(1))))) return std::nullopt;
  std::int64_t v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<double> parse_real(const std::string& text) {
  // Decimal numbers only: [sign] digits [. digits] [e [sign] digits]. from_chars alone would
  // also take "inf", "nan" and hexadecimal forms.
  std::string_view s = text;
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) s.remove_prefix(1);
  std::size_t i = 0;
  std::size_t mantissa_digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++mantissa_digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++mantissa_digits;
  }
  if (mantissa_digits == 0) return std::nullopt;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (i == s.size() || !all_digits(s.substr(i))) return std::nullopt;
    i = s.size();
  }
  if (i != s.size()) return std::nullopt;
  std::string_view t = text;
  if (t.front() == '+') t.remove_prefix(1);
  double v = 0.0;
  const auto r = std::from_chars(t.data(), t.data() + t.size(), v);
  if (r.ec != std::errc() || r.ptr != t.data() + t.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<bool> parse_bool(const std::string& text) {
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  return std::nullopt;
}

std::string IntRange::describe() const {
  constexpr std::int64_t none = std::numeric_limits<std::int64_t>::max();
  if (hi == none) {
    if (lo == 0) return "a non-negative integer";
    if (lo == 1) return "a positive integer";
    return "an integer >= " + std::to_string(lo);
  }
  return "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
}

bool RealRange::contains(double v) const {
  const bool above = lo_open ? v > lo : v >= lo;
  const bool below = std::isinf(hi) || (hi_open ? v < hi : v <= hi);
  return above && below;
}

std::string RealRange::describe() const {
  std::string s = seconds ? "a number of seconds" : "a number";
  if (std::isinf(lo) && std::isinf(hi)) return s;  // any finite number
  if (std::isinf(hi)) return s + (lo_open ? " > " : " >= ") + format_real(lo);
  return s + " in " + (lo_open ? "(" : "[") + format_real(lo) + ", " + format_real(hi) +
         (hi_open ? ")" : "]");
}

// ---------------------------------------------------------------------------------------
// MapReader

MapReader::MapReader(Errors& errors, const Node* node, Mark where, std::string path, YAML::Node out)
    : errors_(errors), node_(node), where_(where), path_(std::move(path)), out_(out) {
  if (node_ == nullptr) return;
  where_ = node_->mark;
  if (node_->kind == Node::Kind::null) {
    node_ = nullptr;  // "run:" with nothing under it: every key takes its default
    return;
  }
  if (node_->kind != Node::Kind::mapping) {
    errors_.add(node_->mark, path_, "expected a mapping, found " + describe_found(*node_));
    valid_ = false;
    node_ = nullptr;
    return;
  }
  for (std::size_t i = 0; i < node_->entries.size(); ++i) {
    const Entry& e = node_->entries[i];
    for (std::size_t j = 0; j < i; ++j) {
      if (node_->entries[j].key == e.key) {
        errors_.add(e.key_mark, path_of(e.key),
                    "duplicate key '" + e.key + "' (first at " + errors_.where(node_->entries[j].key_mark) + ")");
        break;
      }
    }
  }
}

std::string MapReader::path_of(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

bool MapReader::has(std::string_view key) const { return peek(key) != nullptr; }

const Node* MapReader::peek(std::string_view key) const {
  return node_ == nullptr ? nullptr : node_->find(key);
}

const Node* MapReader::get(std::string_view key, bool required) {
  declared_.emplace_back(key);
  if (!valid_) return nullptr;
  const Node* value = node_ == nullptr ? nullptr : node_->find(key);
  if (value == nullptr && required) {
    errors_.add(where_, path_, "missing required key '" + std::string(key) + "'");
  }
  return value;
}

void MapReader::mismatch(std::string_view key, const Node& value, const std::string& expected) {
  errors_.add(value.mark, path_of(key), "expected " + expected + ", found " + describe_found(value));
}

void MapReader::error(const Mark& at, std::string_view key, std::string message) {
  errors_.add(at, path_of(key), std::move(message));
}

std::optional<std::int64_t> MapReader::integer(std::string_view key, const IntRange& range,
                                               std::optional<std::int64_t> fallback) {
  return scalar<std::int64_t>(
      key, range.describe(),
      [&range](const std::string& t) -> std::optional<std::int64_t> {
        const auto v = parse_integer(t);
        if (v && range.contains(*v)) return v;
        return std::nullopt;
      },
      [](const std::int64_t& v) { return std::to_string(v); }, fallback);
}

std::optional<double> MapReader::real(std::string_view key, const RealRange& range,
                                      std::optional<double> fallback) {
  return scalar<double>(
      key, range.describe(),
      [&range](const std::string& t) -> std::optional<double> {
        const auto v = parse_real(t);
        if (v && range.contains(*v)) return v;
        return std::nullopt;
      },
      [](const double& v) { return format_real(v); }, fallback);
}

std::optional<double> MapReader::real_if_present(std::string_view key, const RealRange& range) {
  const Node* node = get(key, false);
  if (node == nullptr) return std::nullopt;
  return convert<double>(key, *node, range.describe(), [&range](const std::string& t) -> std::optional<double> {
    const auto v = parse_real(t);
    if (v && range.contains(*v)) return v;
    return std::nullopt;
  });
}

std::optional<std::int64_t> MapReader::integer_if_present(std::string_view key, const IntRange& range) {
  const Node* node = get(key, false);
  if (node == nullptr) return std::nullopt;
  return convert<std::int64_t>(key, *node, range.describe(),
                               [&range](const std::string& t) -> std::optional<std::int64_t> {
                                 const auto v = parse_integer(t);
                                 if (v && range.contains(*v)) return v;
                                 return std::nullopt;
                               });
}

namespace {

// "a list of 3 numbers", "a list of 1 to 8 integers in [1, 256]", "a list of numbers >= 0".
std::string describe_list(std::size_t min_count, std::size_t max_count, const std::string& item) {
  // item is "a number ..." / "an integer ...": the plural drops the article and adds an s.
  std::string plural = item.substr(item.find(' ') + 1);
  const std::size_t noun_end = plural.find(' ');
  plural.insert(noun_end == std::string::npos ? plural.size() : noun_end, "s");
  std::string count;
  if (min_count == max_count) {
    count = std::to_string(min_count) + " ";
  } else if (max_count != std::numeric_limits<std::size_t>::max()) {
    count = std::to_string(min_count) + " to " + std::to_string(max_count) + " ";
  } else if (min_count > 0) {
    count = std::to_string(min_count) + " or more ";
  }
  return "a list of " + count + plural;
}

}  // namespace

std::optional<std::vector<double>> MapReader::reals(std::string_view key, const RealRange& range,
                                                    std::size_t min_count, std::size_t max_count,
                                                    std::optional<std::vector<double>> fallback) {
  return list<double>(
      key, describe_list(min_count, max_count, range.describe()), range.describe(),
      [&range](const std::string& t) -> std::optional<double> {
        const auto v = parse_real(t);
        if (v && range.contains(*v)) return v;
        return std::nullopt;
      },
      [](const double& v) { return format_real(v); }, min_count, max_count, std::move(fallback));
}

std::optional<std::vector<std::int64_t>> MapReader::integers(std::string_view key, const IntRange& range,
                                                             std::size_t min_count, std::size_t max_count,
                                                             std::optional<std::vector<std::int64_t>> fallback) {
  return list<std::int64_t>(
      key, describe_list(min_count, max_count, range.describe()), range.describe(),
      [&range](const std::string& t) -> std::optional<std::int64_t> {
        const auto v = parse_integer(t);
        if (v && range.contains(*v)) return v;
        return std::nullopt;
      },
      [](const std::int64_t& v) { return std::to_string(v); }, min_count, max_count, std::move(fallback));
}

std::optional<bool> MapReader::boolean(std::string_view key, std::optional<bool> fallback) {
  return scalar<bool>(
      key, "true or false", [](const std::string& t) { return parse_bool(t); },
      [](const bool& v) { return std::string(v ? "true" : "false"); }, fallback);
}

std::optional<std::string> MapReader::name(std::string_view key) {
  return scalar<std::string>(
      key, "a non-empty name without '#' or '/'",
      [](const std::string& t) -> std::optional<std::string> {
        if (t.empty() || t.find_first_of("#/") != std::string::npos) return std::nullopt;
        return t;
      },
      [](const std::string& v) { return v; }, std::nullopt);
}

std::optional<std::string> MapReader::string(std::string_view key, std::optional<std::string> fallback) {
  return scalar<std::string>(
      key, "a non-empty string",
      [](const std::string& t) -> std::optional<std::string> {
        if (t.empty()) return std::nullopt;
        return t;
      },
      [](const std::string& v) { return v; }, fallback);
}

std::optional<std::size_t> MapReader::choice(std::string_view key, const std::vector<std::string>& options,
                                             std::optional<std::size_t> fallback) {
  const Node* node = get(key, !fallback.has_value());
  if (node == nullptr) {
    if (fallback && valid_) out_[std::string(key)] = options[*fallback];
    return fallback;
  }
  if (node->kind == Node::Kind::scalar) {
    for (std::size_t i = 0; i < options.size(); ++i) {
      if (node->text == options[i]) {
        out_[std::string(key)] = options[i];
        return i;
      }
    }
  }
  // "'a', 'b' or 'c'"
  std::string expected;
  for (std::size_t i = 0; i < options.size(); ++i) {
    if (i > 0) expected += i + 1 == options.size() ? " or " : ", ";
    expected += "'" + options[i] + "'";
  }
  std::string message = "expected " + expected + ", found " + describe_found(*node);
  if (node->kind == Node::Kind::scalar) {
    if (auto guess = closest_match(node->text, options)) message += "; did you mean '" + *guess + "'?";
  }
  errors_.add(node->mark, path_of(key), message);
  return std::nullopt;
}

MapReader MapReader::mapping(std::string_view key, bool required) {
  const Node* node = get(key, required);
  const bool present = node != nullptr;
  YAML::Node child = out_[std::string(key)];
  MapReader reader(errors_, node, where_, path_of(key), child);
  if (!present && (required || !valid_)) reader.valid_ = false;
  if (!reader.valid_) out_.remove(std::string(key));
  return reader;
}

const Node* MapReader::sequence(std::string_view key, bool required, YAML::Node& out_items) {
  const Node* node = get(key, required);
  if (node == nullptr) return nullptr;
  if (node->kind != Node::Kind::sequence || node->items.empty()) {
    mismatch(key, *node, "a non-empty sequence");
    return nullptr;
  }
  out_items = YAML::Node(YAML::NodeType::Sequence);
  out_[std::string(key)] = out_items;
  return node;
}

MapReader MapReader::item(std::string_view key, const Node& sequence, std::size_t index, YAML::Node out_items) {
  YAML::Node child(YAML::NodeType::Map);
  out_items.push_back(child);
  return MapReader(errors_, &sequence.items[index], sequence.mark, path_of(key) + "." + std::to_string(index), child);
}

void MapReader::finish(const std::function<std::optional<std::string>(const std::string&)>& explain) {
  if (node_ == nullptr) return;
  for (const Entry& e : node_->entries) {
    if (std::find(declared_.begin(), declared_.end(), e.key) != declared_.end()) continue;
    std::optional<std::string> message;
    if (explain) message = explain(e.key);
    if (!message) {
      if (auto guess = closest_match(e.key, declared_)) {
        message = "unknown key '" + e.key + "'; did you mean '" + *guess + "'?";
      } else {
        std::string known;
        for (const std::string& k : declared_) known += (known.empty() ? "" : ", ") + k;
        message = "unknown key '" + e.key + "'; expected one of: " + known;
      }
    }
    errors_.add(e.key_mark, path_of(e.key), *message);
  }
}

}  // namespace kollektiv::io::deck_detail
