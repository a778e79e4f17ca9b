#include "models/mixer.h"

#include <algorithm>

#include "engine/settings.h"
#include "ops/elementwise/elementwise.h"

namespace lra::models {

namespace {

std::vector<MixerEntry>& registry() {
  static std::vector<MixerEntry> r;
  return r;
}

}  // namespace

MixerOptions::MixerOptions(std::string mixer) : mixer_(std::move(mixer)) {}

MixerOptions::MixerOptions(std::string mixer, const std::map<std::string, std::string>& values)
    : mixer_(std::move(mixer)), values_(&values) {}

const std::string* MixerOptions::value(const char* key, const std::string& type, const std::string& current,
                                       const char* help) {
  for (const OptionInfo& o : declared_)
    LRA_CHECK(o.key != key, "mixer ", mixer_, " declares the key ", key, " twice");
  declared_.push_back({key, type, current, help});
  if (!values_) return nullptr;
  auto it = values_->find(key);
  return it == values_->end() ? nullptr : &it->second;
}


std::string MixerOptions::what(const char* key) const { return str("mixer ", mixer_, ": ", key); }

void MixerOptions::integer(const char* key, int& field, const char* help) {
  if (const std::string* v = value(key, "INT", std::to_string(field), help))
    field = int(settings::parse_int(what(key), *v));
}

void MixerOptions::integer(const char* key, int64_t& field, const char* help) {
  if (const std::string* v = value(key, "INT", std::to_string(field), help))
    field = settings::parse_int(what(key), *v);
}

void MixerOptions::number(const char* key, double& field, const char* help) {
  if (const std::string* v = value(key, "FLOAT", settings::format_double(field), help))
    field = settings::parse_double(what(key), *v);
}

void MixerOptions::flag(const char* key, bool& field, const char* help) {
  if (const std::string* v = value(key, "BOOL", field ? "true" : "false", help))
    field = settings::parse_bool(what(key), *v);
}

void MixerOptions::choice(const char* key, std::string& field, const std::vector<std::string>& allowed,
                          const char* help) {
  if (const std::string* v = value(key, settings::choice_list(allowed), field, help))
    field = settings::check_choice(what(key), *v, allowed);
}

void MixerOptions::finish() const {
  if (!values_) return;
  for (const auto& [key, value] : *values_) {
    bool known = false;
    std::string keys;
    for (const OptionInfo& o : declared_) {
      known = known || o.key == key;
      keys += (keys.empty() ? "" : ", ") + o.key;
    }
    if (!known)
      fail(str("mixer ", mixer_, ": unknown setting '", key, "=", value, "' (",
               keys.empty() ? mixer_ + " takes no mixer settings" : mixer_ + " takes " + keys, ")"));
  }
}

int register_mixer(MixerEntry entry) {
  for (const MixerEntry& e : registry())
    LRA_CHECK(e.name != entry.name, "mixer '", entry.name, "' registered twice");
  LRA_CHECK(entry.make != nullptr, "mixer '", entry.name, "' registered without a factory");
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
  fail(str("model: unknown model '", name, "' (registered: ", known, ")"));
}

}  // namespace lra::models

namespace lra::models {

MixerKernel mixer_kernel(std::string name, bool anti, int64_t first_lag, const Tensor& taps) {
  LRA_CHECK(taps.ndim() == 2, "mixer_kernel: ", name, " taps must be [rows, n], got ", taps.describe());
  Tensor t = taps.dtype() == DType::F32 ? taps : ops::cast(taps, DType::F32);
  return MixerKernel{std::move(name), anti, first_lag, t.to(Device::CPU)};
}

}  // namespace lra::models
