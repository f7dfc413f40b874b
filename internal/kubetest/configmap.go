package kubetest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// ConfigMapVolume writes a file as the kubelet updates a ConfigMap volume
// (its AtomicWriter): each version in a new hidden directory, ..data a
// symlink to it replaced by rename, and the file itself a symlink through
// ..data, so that the file's path never changes and never shows half a
// write.
type ConfigMapVolume struct {
	t       testing.TB
	dir     string
	name    string
	version int
}

// NewConfigMapVolume makes a volume holding one file, name, with content.
func NewConfigMapVolume(t testing.TB, name, content string) *ConfigMapVolume {
	t.Helper()
	v := &ConfigMapVolume{t: t, dir: t.TempDir(), name: name}
	v.Update(content)
	if err := os.Symlink(filepath.Join("..data", name), v.Path()); err != nil {
		t.Fatal(err)
	}
	return v
}

// Path is the file's path, as a pod mounting the volume sees it.
func (v *ConfigMapVolume) Path() string { return filepath.Join(v.dir, v.name) }

// Update swaps in a new version holding content.
func (v *ConfigMapVolume) Update(content string) {
	v.t.Helper()
	v.version++
	version := fmt.Sprintf("..2026_12_02_00_00_00.%d", v.version)
	if err := os.Mkdir(filepath.Join(v.dir, version), 0o755); err != nil {
		v.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(v.dir, version, v.name), []byte(content), 0o644); err != nil {
		v.t.Fatal(err)
	}
	tmp := filepath.Join(v.dir, "..data_tmp")
	if err := os.Symlink(version, tmp); err != nil {
		v.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(v.dir, "..data")); err != nil {
		v.t.Fatal(err)
	}
}
