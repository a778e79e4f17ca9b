// Text (LRA task 2): byte-level IMDB sentiment, 2 classes, up to 4000 bytes. Offline stand-in: two
// Debian fortune categories (it says nothing about IMDB).
#include <algorithm>

#include "tasks/registry.h"
#include "tasks/text/text.h"

namespace lra::tasks {

TaskDescriptor text_task() {
  TaskDescriptor t;
  t.name = "text";
  t.title = "Text: byte-level IMDB sentiment (2 classes, up to 4000 bytes)";
  t.render = Render::Bytes;
  t.release = {"text", true, "the aclImdb folder ({train,test}/{pos,neg}/*.txt)", "",
               [](const std::string& dir, const DataOptions& d) {
                 text::LoadOptions o;
                 o.max_len = d.text_len;
                 return text::load(dir, o);
               }};
  auto fortunes = [](const std::string& dir, const DataOptions& d, uint64_t seed, int max_len) {
    text::FortuneOptions o;
    o.dir = dir.empty() ? d.fortunes : dir;
    o.max_len = max_len;
    o.seed = seed;
    return text::load_fortunes(o);
  };
  t.stand_ins = {{"text-fortunes", false, "a fortune folder (default /usr/share/games/fortunes); STAND-IN, NOT IMDB",
                  text::kFortuneDir,
                  [fortunes](const std::string& dir, const DataOptions& d) {
                    return fortunes(dir, d, 0, d.text_len);
                  }}};
  t.generate_help = "offline stand-in: two Debian fortune categories (NOT IMDB; apt-get install fortunes)";
  t.generate = [fortunes](const DataOptions& d, const std::string&, uint64_t seed) {
    return fortunes("", d, seed, std::min(d.text_len, 1024));  // fortunes are short: padding to 4000 only costs time
  };
  t.denoise = true;
  t.settings = {"text_len", "fortunes"};
  return t;
}

}  // namespace lra::tasks
