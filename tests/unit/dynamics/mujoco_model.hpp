// Test/benchmark helper: load an MJCF string into MuJoCo through its virtual file system.
#pragma once

#include <mujoco/mujoco.h>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

namespace kollektiv::testing {

struct MjModelDeleter {
  void operator()(mjModel* m) const { mj_deleteModel(m); }
};
struct MjDataDeleter {
  void operator()(mjData* d) const { mj_deleteData(d); }
};
using MjModelPtr = std::unique_ptr<mjModel, MjModelDeleter>;
using MjDataPtr = std::unique_ptr<mjData, MjDataDeleter>;

inline MjModelPtr load_mjcf(const std::string& xml) {
  auto vfs = std::make_unique<mjVFS>();  // large: keep it off the stack
  mj_defaultVFS(vfs.get());
  const char* name = "model.xml";
  if (mj_makeEmptyFileVFS(vfs.get(), name, static_cast<int>(xml.size())) != 0)
    throw std::runtime_error("MuJoCo VFS: cannot make a file");
  const int index = mj_findFileVFS(vfs.get(), name);
  std::memcpy(vfs->filedata[index], xml.data(), xml.size());
  char error[1000] = "";
  mjModel* m = mj_loadXML(name, vfs.get(), error, sizeof(error));
  mj_deleteVFS(vfs.get());
  if (!m) throw std::runtime_error(std::string("MuJoCo could not load the MJCF: ") + error + "\n" + xml);
  return MjModelPtr(m);
}

}  // namespace kollektiv::testing
