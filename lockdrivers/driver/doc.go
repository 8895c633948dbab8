// Package driver is the SDK for keyward lock drivers: the Driver interface a
// driver author implements, the value types it speaks (plain Go mirrors of the
// lockdriver.v1 gRPC contract), typed errors whose kind survives the plugin
// boundary, Serve for a driver's main, and the host-side pieces (Handshake,
// PluginSet, Client, NewClientConfig) keyward uses to start and call drivers.
//
// A driver is a separate process speaking the versioned gRPC contract
// lockdriver.v1 over hashicorp/go-plugin. The contract lives in
// lockdrivers/proto/lockdriver/v1; this package converts between it and Go so
// driver authors never touch generated code.
//
// This package must not import anything under core/: a driver author needs
// only the SDK. The host adapter (lockdrivers/host) is the one place that
// joins the SDK to core.
//
// A driver's main is about ten lines:
//
//	func main() {
//		driver.Serve(driver.ServeConfig{
//			Name: "padlock",
//			New:  func(log hclog.Logger) driver.Driver { return padlock.New(log) },
//		})
//	}
package driver
