// Comma-separated lists on the command line (--models transformer,s4d; --kernels 5,7,11): the items in
// order, empty items dropped.
#pragma once

#include <sstream>
#include <string>
#include <vector>

namespace lra::tools {

inline std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace lra::tools
