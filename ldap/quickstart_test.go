package ldap

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuickStart(t *testing.T) {
	dir := t.TempDir()
	q1, err := PrepareQuickStart(dir, "quickstart")
	require.NoError(t, err)
	q2, err := PrepareQuickStart(dir, "quickstart")
	require.NoError(t, err)
	assert.Equal(t, q1.Secret, q2.Secret, "later runs reuse the secret")
	for _, f := range []string{q1.SecretFile, q1.CAFile, dir + "/ldap-key.pem"} {
		st, err := os.Stat(f)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), f)
	}

	s := newStack(t, 3, 1, [][2]int{{0, 0}}, func(c *Config) {
		c.TLS = q2.TLS
		c.Accounts = []Account{q2.Account}
	})
	needTool(t, "ldapsearch")
	cmdline := q2.Command(s.srv.TLSAddr(), testBase)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", cmdline)
	cmd.Env = append(os.Environ(), "LDAPCONF=/dev/null", "LDAPRC=/dev/null")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s\n%s", cmdline, out)
	assert.Contains(t, string(out), "uid: user002")
	assert.Contains(t, string(out), "memberOf: cn=lock-00,ou=entitlements,"+testBase)
	assert.NotContains(t, cmdline, q2.Secret, "the secret stays in its file")
}
