// Errors inside the engine are exceptions carrying an ol_status; the C API boundary turns them into
// a status code plus the thread's last-error message.
#pragma once

#include <stdexcept>
#include <string>

#include "ol_engine.h"

namespace ol {

class Error : public std::runtime_error {
 public:
  Error(ol_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
  ol_status status() const { return status_; }

 private:
  ol_status status_;
};

[[noreturn]] inline void fail_bad_file(const std::string& message) { throw Error(OL_ERR_BAD_FILE, message); }
[[noreturn]] inline void fail_argument(const std::string& message) {
  throw Error(OL_ERR_INVALID_ARGUMENT, message);
}

}  // namespace ol
