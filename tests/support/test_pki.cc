#include "tests/support/test_pki.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace rollout::testing {

TestPki::TestPki() { MakeAuthority("ca"); }

bool TestPki::Run(const std::vector<std::string>& argv) {
  if (!ok()) return false;
  std::string output;
  if (RunCommand(argv, &output) != 0) {
    error_ = absl::StrCat(absl::StrJoin(argv, " "), " failed: ", output);
    return false;
  }
  return true;
}

bool TestPki::MakeAuthority(const std::string& name) {
  return Run({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
              "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=" + name, "-keyout",
              path(name + ".key"), "-out", path(name + ".crt")});
}

bool TestPki::Issue(const std::string& name, const std::string& ca, const std::string& sans) {
  const std::string ext =
      dir_.WriteFile(name + ".ext", absl::StrCat("subjectAltName=", sans,
                                                 "\nbasicConstraints=CA:FALSE\n"
                                                 "extendedKeyUsage=serverAuth,clientAuth\n"));
  return Run({"/usr/bin/openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
              "-nodes", "-subj", "/CN=" + name, "-keyout", path(name + ".key"), "-out",
              path(name + ".csr")}) &&
         Run({"/usr/bin/openssl", "x509", "-req", "-in", path(name + ".csr"), "-CA",
              path(ca + ".crt"), "-CAkey", path(ca + ".key"), "-CAcreateserial", "-days", "2",
              "-extfile", ext, "-out", path(name + ".crt")});
}

std::string TestPki::Read(const std::string& file) const {
  std::ifstream in(path(file));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace rollout::testing
