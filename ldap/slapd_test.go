package ldap

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/require"
)

// slapd is a real OpenLDAP server started by a test on 127.0.0.1 with a
// temporary configuration and database.
type slapd struct {
	url    string
	rootDN string
	rootPW string
	cmd    *exec.Cmd
}

type slapdOptions struct {
	memberOf    bool   // load the memberof overlay (benchmarks)
	cpu         string // taskset CPU list for the server, "" for none
	extraSchema string // a schema file to include
	ldif        string // entries to load with slapadd before starting
}

func startSlapdWithData(t testing.TB, opt slapdOptions) *slapd { return startSlapd(t, opt) }

func startSlapd(t testing.TB, opt slapdOptions) *slapd {
	bin := needTool(t, "slapd")
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	require.NoError(t, os.MkdirAll(db, 0o700))
	s := &slapd{rootDN: "cn=admin," + testBase, rootPW: "admin-secret"}
	var conf strings.Builder
	fmt.Fprintf(&conf, "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\ninclude /etc/ldap/schema/inetorgperson.schema\n")
	if opt.extraSchema != "" {
		fmt.Fprintf(&conf, "include %s\n", opt.extraSchema)
	}
	fmt.Fprintf(&conf, "pidfile %s/slapd.pid\nmodulepath /usr/lib/ldap\nmoduleload back_mdb\n", dir)
	if opt.memberOf {
		conf.WriteString("moduleload memberof\n")
	}
	conf.WriteString("loglevel 0\nthreads 4\nsizelimit unlimited\n")
	fmt.Fprintf(&conf, "database mdb\nmaxsize 1073741824\nsuffix %q\nrootdn %q\nrootpw %s\ndirectory %s\n", testBase, s.rootDN, s.rootPW, db)
	conf.WriteString("index objectClass,uid,member,uniqueMember,entryUUID,employeeNumber eq\nindex cn eq,sub\nindex modifyTimestamp eq\n")
	if opt.memberOf {
		conf.WriteString("overlay memberof\nmemberof-refint true\n")
	}
	confFile := filepath.Join(dir, "slapd.conf")
	require.NoError(t, os.WriteFile(confFile, []byte(conf.String()), 0o600))

	if opt.ldif != "" {
		out, err := exec.Command(bin, "-T", "add", "-q", "-f", confFile, "-l", opt.ldif).CombinedOutput()
		require.NoError(t, err, "slapadd: %s", out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	_ = ln.Close()
	s.url = "ldap://" + addr
	args := []string{"-f", confFile, "-h", s.url + "/", "-d", "0"}
	name := bin
	if opt.cpu != "" {
		if ts, err := exec.LookPath("taskset"); err == nil {
			args = append([]string{"-c", opt.cpu, bin}, args...)
			name = ts
		}
	}
	s.cmd = exec.Command(name, args...)
	out := &strings.Builder{}
	s.cmd.Stdout, s.cmd.Stderr = out, out
	require.NoError(t, s.cmd.Start())
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	})
	require.Eventually(t, func() bool {
		c, err := goldap.DialURL(s.url)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}, 10*time.Second, 50*time.Millisecond, "slapd did not start: %s", out)
	return s
}

func (s *slapd) admin(t testing.TB) *goldap.Conn {
	c, err := goldap.DialURL(s.url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.Bind(s.rootDN, s.rootPW))
	return c
}

func (s *slapd) add(t testing.TB, c *goldap.Conn, dn string, attrs map[string][]string) {
	r := goldap.NewAddRequest(dn, nil)
	for k, v := range attrs {
		r.Attribute(k, v)
	}
	require.NoError(t, c.Add(r), dn)
}

// keyward's own schema, as the view publishes it, is valid OpenLDAP schema.
func TestSchemaLoadsInSlapd(t *testing.T) {
	slaptest := needTool(t, "slaptest")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "keyward.schema"), []byte(slapdSchema()), 0o600))
	conf := "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\n" +
		"include /etc/ldap/schema/inetorgperson.schema\ninclude " + filepath.Join(dir, "keyward.schema") + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "slapd.conf"), []byte(conf), 0o600))
	out, err := exec.Command(slaptest, "-u", "-f", filepath.Join(dir, "slapd.conf")).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, slapdSchema(), "NAME 'keywardPerson'")
}
