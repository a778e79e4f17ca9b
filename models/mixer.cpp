#include "models/mixer.h"

#include <algorithm>
#include <cstdlib>

namespace lra::models {

namespace {

std::string joined(const std::vector<std::string>& keys) {
  std::string out;
  for (const std::string& k : keys) out += (out.empty() ? "" : ", ") + k;
  return out;
}

// Inside a registered mixer's make(): a read of a key its entry does not declare is a bug of the mixer.
void check_declared(const MixerConfig& c, const std::string& key) {
  if (c.mixer.empty()) return;
  LRA_CHECK(std::find(c.declared.begin(), c.declared.end(), key) != c.declared.end(), "mixer '", c.mixer,
            "' reads the setting '", key, "' but its LRA_REGISTER_MIXER entry does not declare it (declared: ",
            c.declared.empty() ? std::string("none") : joined(c.declared), ")");
}

}  // namespace

double MixerConfig::get(const std::string& key, double fallback) const {
  check_declared(*this, key);
  auto it = extra.find(key);
  if (it == extra.end()) return fallback;
  char* end = nullptr;
  double v = std::strtod(it->second.c_str(), &end);
  LRA_CHECK(end && *end == '\0' && !it->second.empty(), "model setting ", key, " = '", it->second,
            "' is not a number");
  return v;
}

std::string MixerConfig::get_string(const std::string& key, const std::string& fallback) const {
  check_declared(*this, key);
  auto it = extra.find(key);
  return it == extra.end() ? fallback : it->second;
}

static std::vector<MixerEntry>& registry() {
  static std::vector<MixerEntry> r;
  return r;
}

static void check_keys(const std::string& name, const std::vector<std::string>& keys, const MixerConfig& config) {
  for (const auto& [key, value] : config.extra) {
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) continue;
    fail(str("mixer '", name, "': unknown setting '", key, "=", value, "' (",
             keys.empty() ? name + " takes no mixer settings" : name + " takes " + joined(keys), ")"));
  }
}

void check_mixer_keys(const MixerEntry& entry, const MixerConfig& config) { check_keys(entry.name, entry.keys, config); }

int register_mixer(MixerEntry entry) {
  for (const MixerEntry& e : registry())
    LRA_CHECK(e.name != entry.name, "mixer '", entry.name, "' registered twice");
  LRA_CHECK(entry.make != nullptr, "mixer '", entry.name, "' registered without a factory");
  // Every build goes through the key check, and the mixer sees a config that knows its declared keys.
  MixerFactory build = std::move(entry.make);
  entry.make = [build, name = entry.name, keys = entry.keys](const MixerConfig& config, Generator& init) {
    check_keys(name, keys, config);
    MixerConfig checked = config;
    checked.mixer = name;
    checked.declared = keys;
    return build(checked, init);
  };
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
