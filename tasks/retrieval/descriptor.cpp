// Retrieval (LRA task 3): AAN document matching, do two papers cite each other? 2 classes, two byte
// sequences of up to 4000 bytes. Offline stand-in: pairs of Debian fortunes (same category or not).
#include <algorithm>

#include "tasks/registry.h"
#include "tasks/retrieval/retrieval.h"

namespace lra::tasks {

TaskDescriptor retrieval_task() {
  TaskDescriptor t;
  t.name = "retrieval";
  t.title = "Retrieval: two-tower AAN document matching (2 classes, two documents of up to 4000 bytes)";
  t.render = Render::Bytes;
  t.release = {"retrieval", true, "the tsv_data folder (new_aan_pairs.{train,eval,test}.tsv)", "",
               [](const std::string& dir, const DataOptions& d) {
                 retrieval::LoadOptions o;
                 o.max_len = d.text_len;
                 return retrieval::load(dir, o);
               }};
  t.stand_ins = {{"retrieval-fortunes", false,
                  "a fortune folder (default /usr/share/games/fortunes); STAND-IN, NOT AAN", text::kFortuneDir,
                  [](const std::string& dir, const DataOptions&) {
                    retrieval::FortuneOptions o;
                    o.dir = dir;
                    return retrieval::load_fortunes(o);
                  }}};
  t.generate_help = "offline stand-in: pairs of Debian fortunes (NOT AAN; apt-get install fortunes)";
  t.generate = [](const DataOptions& d, const std::string&, uint64_t seed) {
    retrieval::FortuneOptions o;
    o.dir = d.fortunes;
    o.num_train = d.gen_train;
    o.num_val = o.num_test = d.gen_val;
    o.max_len = std::min(d.text_len, 1024);  // fortunes are short
    o.seed = seed;
    return retrieval::load_fortunes(o);
  };
  t.denoise = true;
  t.settings = {"text_len", "gen_train", "gen_val", "fortunes"};
  return t;
}

}  // namespace lra::tasks
