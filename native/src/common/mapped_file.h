// Read-only memory mapping of a whole file (model weights stay in the page cache, never copied).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ol {

class MappedFile {
 public:
  // Throws ol::Error(OL_ERR_IO) when the file cannot be opened or mapped. populate: map every page
  // now (one system call instead of a fault per page, for files read at once such as adapters).
  explicit MappedFile(const std::string& path, bool populate = false);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Whole small file into a string (configs); throws ol::Error(OL_ERR_IO).
std::string read_text_file(const std::string& path, size_t max_bytes);

}  // namespace ol
