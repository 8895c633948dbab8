package lockdriverv1_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGeneratedCodeIsCurrent regenerates the Go code of lockdriver.proto
// into a temporary directory with the pinned tools and fails if the
// committed files differ: run `make proto` and commit the result.
//
// scripts/proto.sh installs the tools when missing (protoc from Debian when
// running as root, the pinned protoc-gen-go plugins into ./.tools); where
// that is impossible the test skips and says why.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	root, err := filepath.Abs("../../../..")
	require.NoError(t, err)
	script := filepath.Join(root, "scripts", "proto.sh")
	require.FileExists(t, script)

	tools := exec.Command(script, "tools")
	if out, err := tools.CombinedOutput(); err != nil {
		t.Skipf("proto tools unavailable, staleness not checked: %v\n%s", err, out)
	}

	out := t.TempDir()
	gen := exec.Command(script)
	gen.Env = append(os.Environ(), "PROTO_OUT="+out)
	msg, err := gen.CombinedOutput()
	require.NoError(t, err, "scripts/proto.sh: %s", msg)

	for _, name := range []string{"lockdriver.pb.go", "lockdriver_grpc.pb.go"} {
		want, err := os.ReadFile(filepath.Join(out, "lockdriver", "v1", name))
		require.NoError(t, err)
		got, err := os.ReadFile(name)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(want, got), "%s is stale: run `make proto` and commit the result", name)
	}
}
