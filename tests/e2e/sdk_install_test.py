"""The plugin SDK as a plugin author outside the tree sees it: install the
SDK (`cmake --install --component sdk`) into a temporary prefix, build
examples/hello-plugin against it with find_package(Gourmet) (with clang when
there is one, so the plugin and the host come from different compilers), and
load the result in the real pipeline with `gourmet run`."""

import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gourmet_test_lib as g  # noqa: E402

EXAMPLE = os.path.join(g.ROOT, "examples", "hello-plugin")


def check(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


class SdkInstallTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = g.temp_dir()
        d = cls.tmp.name
        cls.prefix = os.path.join(d, "prefix")
        check(["cmake", "--install", g.BUILD, "--prefix", cls.prefix, "--component", "sdk"])
        cls.build = os.path.join(d, "hello-build")
        configure = ["cmake", "-S", EXAMPLE, "-B", cls.build, f"-DCMAKE_PREFIX_PATH={cls.prefix}",
                     "-DCMAKE_BUILD_TYPE=Release"]
        if shutil.which("ninja"):
            configure += ["-G", "Ninja"]
        cls.compiler = shutil.which("clang++") or shutil.which("c++")
        configure.append(f"-DCMAKE_CXX_COMPILER={cls.compiler}")
        check(configure)
        check(["cmake", "--build", cls.build])
        cls.plugin = os.path.join(cls.build, "hello.so")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_installed_files(self):
        for f in ("include/gourmet/plugin.h", "include/gourmet/sdk.h", "include/gourmet/config.h"):
            self.assertTrue(os.path.isfile(os.path.join(self.prefix, f)), f)
        cmake_dirs = [os.path.join(root) for root, _, files in os.walk(self.prefix)
                      if "GourmetConfig.cmake" in files]
        self.assertEqual(len(cmake_dirs), 1, cmake_dirs)
        files = os.listdir(cmake_dirs[0])
        for f in ("GourmetConfig.cmake", "GourmetConfigVersion.cmake", "GourmetTargets.cmake"):
            self.assertIn(f, files)
        # Only the SDK component: no service binaries, no project libraries.
        self.assertFalse(os.path.exists(os.path.join(self.prefix, "bin")))

    def test_built_against_the_installed_package(self):
        with open(os.path.join(self.build, "CMakeCache.txt")) as f:
            cache = f.read()
        gourmet_dir = [l.split("=", 1)[1] for l in cache.splitlines() if l.startswith("Gourmet_DIR:")]
        self.assertEqual(len(gourmet_dir), 1)
        self.assertTrue(gourmet_dir[0].startswith(self.prefix), gourmet_dir[0])
        # The include path is the prefix's, never the source tree's.
        commands = check(["ninja", "-C", self.build, "-t", "commands"]).stdout \
            if shutil.which("ninja") else ""
        if commands:
            self.assertIn(os.path.join(self.prefix, "include"), commands)
            self.assertNotIn(os.path.join(g.ROOT, "sdk"), commands)
        # One exported symbol: the entry point.
        syms = check(["nm", "-D", "--defined-only", self.plugin]).stdout.split()
        self.assertIn("gourmet_plugin_entry", syms)
        self.assertNotIn("_ZN7gourmet", " ".join(syms))

    def test_loaded_by_the_pipeline(self):
        with g.temp_dir() as d:
            out = os.path.join(d, "out.log")
            r = g.run([os.path.join(g.BIN, "gourmet"), "run", "-r", g.SAMPLE, "-o", out,
                       "--plugin-dir", self.build, "--plugins", "hello", "--seed", "5"])
            self.assertEqual(r.returncode, 0, r.stderr)
            records = g.read_log(out)
        self.assertEqual(len(records), 14)
        for rec in records:
            self.assertEqual(rec["hello"]["greeting"], "hello", rec)
            self.assertEqual(rec["hello"]["payload_bytes"], rec["orig_bytes"] + rec["resp_bytes"])
            self.assertEqual(rec["hello"]["proto"], rec["proto"])

    def write_config(self, d, config):
        path = os.path.join(d, "gourmet.yaml")
        with open(path, "w") as f:
            f.write("analyzer:\n  plugins:\n    - name: hello\n"
                    f"      path: {self.plugin}\n      config: {config}\n")
        return path

    def test_typed_config(self):
        with g.temp_dir() as d:
            out = os.path.join(d, "out.log")
            cfg = self.write_config(d, "{greeting: bonjour, min_bytes: 1000}")
            r = g.run([os.path.join(g.BIN, "gourmet"), "run", "-r", g.SAMPLE, "-o", out, "-c", cfg])
            self.assertEqual(r.returncode, 0, r.stderr)
            records = g.read_log(out)
        greeted = [rec for rec in records if "hello" in rec]
        self.assertTrue(greeted)
        for rec in records:
            big = rec["orig_bytes"] + rec["resp_bytes"] >= 1000
            self.assertEqual("hello" in rec, big, rec)
            if big:
                self.assertEqual(rec["hello"]["greeting"], "bonjour")

    def test_bad_config_value_refuses_start_naming_plugin_and_key(self):
        for config, key, what in (("{min_bytes: lots}", "min_bytes", "expected an integer"),
                                  ("{min_bytes: -1}", "min_bytes", "expected an integer"),
                                  ("{greeting: ''}", "greeting", "must not be empty"),
                                  ("{greting: hi}", "greting", "unknown key")):
            with g.temp_dir() as d:
                cfg = self.write_config(d, config)
                r = g.run([os.path.join(g.BIN, "gourmet"), "run", "-r", g.SAMPLE, "-o",
                           os.path.join(d, "out.log"), "-c", cfg])
                self.assertEqual(r.returncode, 1, (config, r.stderr))
                self.assertIn("plugin 'hello'", r.stderr)
                self.assertIn(f"key '{key}': {what}", r.stderr)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)


if __name__ == "__main__":
    unittest.main()
