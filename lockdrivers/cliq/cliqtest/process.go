package cliqtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/keyward/keyward/lockdrivers/cliq"
	"github.com/keyward/keyward/lockdrivers/cliq/sim"
	"github.com/keyward/keyward/lockdrivers/driver"
	"github.com/keyward/keyward/lockdrivers/drivertest"
	"github.com/keyward/keyward/lockdrivers/simctl"
)

// runEnv, when set in a test binary's environment, makes Main run the
// simulator (configured by the variable's JSON value) instead of the tests.
const runEnv = "KEYWARD_CWMSIM_RUN"

type procConfig struct {
	Profile  string `json:"profile"`
	SeedFile string `json:"seedFile"`
	CertDir  string `json:"certDir"`
}

// Main is a TestMain for driver packages that also start the simulator as
// a separate process (StartSimProcess): started as that process, it serves
// the simulator until SIGTERM; otherwise it is drivertest.Main.
func Main(m *testing.M, serve driver.ServeConfig) {
	if v := os.Getenv(runEnv); v != "" {
		if err := runSimProcess(v); err != nil {
			fmt.Fprintln(os.Stderr, "cwm simulator:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	drivertest.Main(m, serve)
}

func runSimProcess(v string) error {
	var pc procConfig
	if err := json.Unmarshal([]byte(v), &pc); err != nil {
		return err
	}
	profile := sim.ProfileCLIQ
	if pc.Profile == sim.ProfilePROTEC2.Name {
		profile = sim.ProfilePROTEC2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return sim.Run(ctx, sim.RunConfig{Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", SeedFile: pc.SeedFile,
		CertDir: pc.CertDir, Options: sim.Options{Profile: profile, Start: Start}},
		func(i sim.RunInfo) { _ = json.NewEncoder(os.Stdout).Encode(i) })
}

// StartSimProcess returns a drivertest StartSim that runs the simulator as
// a separate process (this test binary re-executed; see Main), seeded with
// the conformance fixture through a seed file, driven through the simctl
// admin endpoint.
func StartSimProcess(profile sim.Profile) func(t *testing.T) drivertest.Sim {
	return func(t *testing.T) drivertest.Sim {
		dir := t.TempDir()
		f := NewFixture()
		seed, err := yaml.Marshal(f.Seed())
		require.NoError(t, err)
		seedFile := filepath.Join(dir, "seed.yaml")
		require.NoError(t, os.WriteFile(seedFile, seed, 0o600))
		pc, err := json.Marshal(procConfig{Profile: profile.Name, SeedFile: seedFile, CertDir: filepath.Join(dir, "certs")})
		require.NoError(t, err)
		exe, err := os.Executable()
		require.NoError(t, err)
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), runEnv+"="+string(pc))
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		})
		line := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(out)
			if sc.Scan() {
				line <- sc.Text()
			}
			close(line)
		}()
		var info sim.RunInfo
		select {
		case l, ok := <-line:
			require.True(t, ok, "the simulator process ended before it listened")
			require.NoError(t, json.Unmarshal([]byte(l), &info))
		case <-time.After(30 * time.Second):
			t.Fatal("the simulator process did not start listening")
		}
		read := func(name string) string {
			b, err := os.ReadFile(filepath.Join(dir, "certs", name))
			require.NoError(t, err)
			return string(b)
		}
		settings, err := json.Marshal(cliq.Settings{URL: info.URL, CACertificatePEM: read("ca.pem")})
		require.NoError(t, err)
		return drivertest.Sim{
			Control: simctl.NewClient(info.AdminURL, nil),
			Config: driver.Config{LockSystem: profile.Name, Settings: settings, Secrets: map[string]string{
				cliq.SecretClientCertificate:           read("client.p12.b64"),
				cliq.SecretClientCertificatePassphrase: read("client.pass"),
			}},
			Fixture: f.Fixture,
		}
	}
}
