#include "models/mixer.h"

#include <cstdlib>

namespace lra::models {

double MixerConfig::get(const std::string& key, double fallback) const {
  auto it = extra.find(key);
  if (it == extra.end()) return fallback;
  char* end = nullptr;
  double v = std::strtod(it->second.c_str(), &end);
  LRA_CHECK(end && *end == '\0' && !it->second.empty(), "model setting ", key, " = '", it->second,
            "' is not a number");
  return v;
}

std::string MixerConfig::get_string(const std::string& key, const std::string& fallback) const {
  auto it = extra.find(key);
  return it == extra.end() ? fallback : it->second;
}

static std::vector<MixerEntry>& registry() {
  static std::vector<MixerEntry> r;
  return r;
}

int register_mixer(MixerEntry entry) {
  for (const MixerEntry& e : registry())
    LRA_CHECK(e.name != entry.name, "mixer '", entry.name, "' registered twice");
  registry().push_back(std::move(entry));
  return int(registry().size());
}

const std::vector<MixerEntry>& mixers() { return registry(); }

const MixerEntry& find_mixer(const std::string& name) {
  std::string known;
  for (const MixerEntry& e : registry()) {
    if (e.name == name) return e;
    known += (known.empty() ? "" : ", ") + e.name;
  }
  fail(str("--model: unknown model '", name, "' (registered: ", known, ")"));
}

}  // namespace lra::models
