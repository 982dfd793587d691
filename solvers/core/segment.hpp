// Named parts of a vector: the layout of an observation or action ("joint_angles" 12 wide,
// then "joint_velocities" 6 wide, ...), so that two skills can tell which parts they share.
#pragma once

#include <string>
#include <vector>

namespace kollektiv {

struct Segment {
  std::string name;
  int width = 0;
  bool operator==(const Segment& o) const { return name == o.name && width == o.width; }
  bool operator!=(const Segment& o) const { return !(*this == o); }
};
using SegmentLayout = std::vector<Segment>;

// "joint_angles:12,joint_velocities:6": how a layout is stored in files.
std::string layout_text(const SegmentLayout& layout);
// The inverse; an empty layout for text that is not one (names of [a-z0-9_], widths >= 1).
SegmentLayout parse_layout(const std::string& text);
// The sum of the widths.
int layout_width(const SegmentLayout& layout);

}  // namespace kollektiv
