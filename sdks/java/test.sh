#!/usr/bin/env bash
# The Java SDK's checks, from nothing: the repository's venv (it holds the broker the tests
# start), then `mvn verify`: protoc and protoc-gen-grpc-java generate the fila.v1 stubs from
# ../../proto (nothing generated is committed, so there is no drift to check), javac compiles
# the SDK, and Surefire runs the JUnit 5 tests against real `fila serve` processes. Extra
# arguments go to Maven (e.g. -Dtest=LifecycleTest).
set -euo pipefail
"$(dirname "$0")/../../scripts/setup_env.sh"
cd "$(dirname "$0")"
for tool in java mvn openssl; do
  if ! command -v "$tool" >/dev/null; then
    echo "error: the Java SDK's tests need $tool (Java 17+, Maven 3.8+, openssl for test certificates)" >&2
    exit 1
  fi
done
echo "== java: mvn verify (generate stubs, compile, JUnit tests against fila serve)"
rm -rf target/surefire-reports
mvn -B -q -Dstyle.color=never verify "$@"
reports=(target/surefire-reports/TEST-*.xml)
python3 - "${reports[@]}" <<'PY'
import sys, xml.etree.ElementTree as ET
t = f = e = s = 0
for path in sys.argv[1:]:
    r = ET.parse(path).getroot()
    t += int(r.get("tests", 0)); f += int(r.get("failures", 0))
    e += int(r.get("errors", 0)); s += int(r.get("skipped", 0))
print(f"java: {t - f - e - s} passed, {f + e} failed, {s} skipped")
if s:
    sys.exit("error: a test skipped; in CI every test must run (the broker is always there)")
PY
