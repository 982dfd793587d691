#include "solvers/core/segment.hpp"

#include <algorithm>
#include <cctype>

namespace kollektiv {

std::string layout_text(const SegmentLayout& layout) {
  std::string text;
  for (const Segment& s : layout) text += (text.empty() ? "" : ",") + s.name + ":" + std::to_string(s.width);
  return text;
}

SegmentLayout parse_layout(const std::string& text) {
  SegmentLayout layout;
  if (!text.empty() && text.back() == ',') return {};
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = std::min(text.find(',', start), text.size());
    const std::string part = text.substr(start, end - start);
    const std::size_t colon = part.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == part.size() || part.size() - colon > 7) return {};
    Segment s;
    s.name = part.substr(0, colon);
    for (char c : s.name)
      if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_'))
        return {};
    for (std::size_t i = colon + 1; i < part.size(); ++i) {
      if (!std::isdigit(static_cast<unsigned char>(part[i]))) return {};
      s.width = s.width * 10 + (part[i] - '0');
    }
    if (s.width < 1) return {};
    layout.push_back(s);
    start = end + 1;
  }
  return layout;
}

int layout_width(const SegmentLayout& layout) {
  int w = 0;
  for (const Segment& s : layout) w += s.width;
  return w;
}

}  // namespace kollektiv
