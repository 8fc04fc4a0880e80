#include "common/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/error.h"

namespace ol {

MappedFile::MappedFile(const std::string& path, bool populate) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(OL_ERR_IO, "cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(OL_ERR_IO, "not a regular file: " + path);
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED | (populate ? MAP_POPULATE : 0), fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      throw Error(OL_ERR_IO, "cannot map " + path + ": " + std::strerror(errno));
    }
    data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

std::string read_text_file(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(OL_ERR_IO, "cannot open " + path);
  in.seekg(0, std::ios::end);
  std::streamoff len = in.tellg();
  if (len < 0) throw Error(OL_ERR_IO, "cannot read " + path);
  if (static_cast<size_t>(len) > max_bytes)
    throw Error(OL_ERR_BAD_FILE, path + " is larger than " + std::to_string(max_bytes) + " bytes");
  in.seekg(0);
  std::string out(static_cast<size_t>(len), '\0');
  in.read(out.data(), len);
  if (!in) throw Error(OL_ERR_IO, "cannot read " + path);
  return out;
}

}  // namespace ol
