#pragma once
// C++ exceptions of the core. The bindings map each to a sapwood.SapwoodError subclass.
#include <stdexcept>
#include <string>

namespace sapwood {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A parameter value is invalid (maps to sapwood.ParameterError).
struct ParameterError : Error {
  using Error::Error;
};
// Input data is unusable (maps to sapwood.DataError).
struct DataError : Error {
  using Error::Error;
};
// A model file or model arrays are malformed (maps to sapwood.ModelFormatError).
struct ModelFormatError : Error {
  using Error::Error;
};

}  // namespace sapwood
