package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/mynumber-mdoc/mnc/internal/cli"
	"github.com/mynumber-mdoc/mnc/internal/obs"
	"github.com/mynumber-mdoc/mnc/issuer/app"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// codeDataDirMissing is the code of an administration command run on a
// data directory that no issuer has set up.
const codeDataDirMissing = "data_dir_not_initialised"

// newRootCmd is the command tree: one constructor per subcommand.
func newRootCmd() *cobra.Command {
	var c common
	root := cli.NewRoot("mdoc-issuer", "OpenID4VCI issuer of My Number Card mdocs",
		`mdoc-issuer issues the My Number Card as ISO/IEC 18013-5 mdocs over OpenID4VCI and
administers what it issued. serve starts on development defaults with no flags; the
administration commands work on the same data directory (the server may be running)
and refuse one that serve has not set up.

The data directory defaults to $XDG_DATA_HOME/mnc/issuer (~/.local/share/mnc/issuer).
Environment: MNC_ISSUER_PKCS11_PIN may hold the PIN instead of --pkcs11-pin.`,
		newServeCmd(&c),
		newAdminChangeCmd(&c, "suspend", "Suspend a lost phone's credentials (一時利用停止)", "temporarily unusable until resume"),
		newAdminChangeCmd(&c, "resume", "Lift a suspension: the phone found, its credentials usable again", "usable again"),
		newAdminChangeCmd(&c, "revoke", "Revoke credentials permanently (失効) and queue a remote delete", "permanently invalid; the phone deletes them when it next syncs"),
		newBlockCmd(&c, "block-model", "MODEL", "Block a device model (emergency restriction, 縮退運用)", true),
		newBlockCmd(&c, "unblock-model", "MODEL", "Lift the block of a device model", false),
		newBlockCmd(&c, "block-os", "VERSION", "Block an OS version (emergency restriction)", true),
		newBlockCmd(&c, "unblock-os", "VERSION", "Lift the block of an OS version", false),
		newBlocksCmd(&c),
		newInsuranceImportCmd(&c),
		newListDevicesCmd(&c),
		newAuditCmd(&c),
		newReaderCertCmd(&c),
		newRevokeCertCmd(&c),
		newCRLPollCmd(&c),
		newIACACmd(&c),
		newAttestationCmd(),
	)
	c.register(root.PersistentFlags())
	return root
}

func program() *cli.Program {
	return &cli.Program{Root: newRootCmd, Code: errorCode}
}

// errorCode gives failures the OpenID4VCI code the service attached.
func errorCode(err error) string {
	var e *oid4vci.Error
	if errors.As(err, &e) {
		return e.Code
	}
	if errors.Is(err, app.ErrNotInitialised) {
		return codeDataDirMissing
	}
	return ""
}

// run executes one command line; tests call it like main does.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return program().Run(ctx, args, stdin, stdout, stderr)
}

// common are the flags every command shares: they say which issuer
// (storage, keys, trust) a command works on, so they are persistent.
type common struct {
	opts          app.Options
	models        string
	walletDigests string
	verbose       bool
	logFormat     string // serve's --log-format; other commands log text
	debugAddr     string // serve's --debug-addr
	gcPercent     int    // serve's --gc-percent
}

func (c *common) register(fs *pflag.FlagSet) {
	fs.StringVar(&c.opts.DataDir, "data-dir", cli.DefaultDataDir("issuer"), "data directory (database, keys, certificates, admin token); serve creates it on first run")
	fs.StringVar(&c.opts.PostgresDSN, "postgres", "", "PostgreSQL DSN (postgres://user:pass@host/db); default SQLite in the data directory")
	fs.StringVar(&c.opts.PKCS11.Module, "pkcs11-module", "", "PKCS#11 module for the signing keys (e.g. /usr/lib/softhsm/libsofthsm2.so); default file keys")
	fs.StringVar(&c.opts.PKCS11.TokenLabel, "pkcs11-token", "", "PKCS#11 token label")
	fs.StringVar(&c.opts.PKCS11.PIN, "pkcs11-pin", "", "PKCS#11 user PIN (default $MNC_ISSUER_PKCS11_PIN)")
	fs.BoolVar(&c.opts.Production, "production", false, "production mode: refuse file keys and JPKI test roots, disable /dev/attest")
	fs.StringVar(&c.opts.JPKIRootsFile, "jpki-roots", "", "PEM file of trusted JPKI roots (production); default the development test CA")
	fs.StringVar(&c.opts.JPKICRLDir, "jpki-crl-dir", "", "directory of JPKI CRLs named by distribution point")
	fs.StringVar(&c.opts.JPKICADir, "jpki-ca-dir", "", "development JPKI test CA directory (default <data-dir>/jpki-testca; may be a jpki-sim CA)")
	fs.StringVar(&c.opts.AttestationRootsFile, "attestation-roots", "", "PEM file of platform key-attestation roots (required in production)")
	fs.StringVar(&c.opts.WalletAndroidPackage, "wallet-android-package", "", "Android package name of the wallet app the platform must attest (required in production)")
	fs.StringVar(&c.walletDigests, "wallet-android-signing-digest", "", "comma-separated hex SHA-256 of the wallet APK signing certificate (required in production)")
	fs.StringVar(&c.opts.WalletAppleAppID, "wallet-apple-app-id", "", "App Attest app id TEAMID.bundle.id of the wallet app (required in production)")
	fs.BoolVar(&c.opts.AttestationRequireStrongBox, "attestation-require-strongbox", false, "accept only StrongBox-backed Android device keys (default: TEE or StrongBox)")
	fs.StringVar(&c.opts.AttestationMinPatch, "attestation-min-patch", "", "refuse Android devices below this security patch level (YYYY-MM)")
	fs.StringVar(&c.opts.AttestationStatus, "attestation-status", "", "Google attestation status list, file or URL (production default: Google's URL)")
	fs.StringVar(&c.models, "allowed-models", "", "comma-separated device model allow-list (default: the built-in development list)")
	fs.BoolVarP(&c.verbose, "verbose", "v", false, "debug logging")
}

// open assembles the issuer. Only serve may create a data directory;
// every other command refuses one that serve has not set up.
func (c *common) open(ctx context.Context, stderr io.Writer, create bool) (*app.App, error) {
	if !create {
		if err := app.CheckInitialised(c.opts.DataDir); err != nil {
			return nil, cli.Fail(codeDataDirMissing, err)
		}
	}
	if c.models != "" {
		c.opts.AllowedModels = strings.Split(c.models, ",")
	}
	if c.walletDigests != "" {
		c.opts.WalletAndroidSigningDigests = strings.Split(c.walletDigests, ",")
	}
	if c.opts.PKCS11.PIN == "" {
		// Read here rather than as the flag default, so that --help never
		// prints the PIN.
		c.opts.PKCS11.PIN = os.Getenv("MNC_ISSUER_PKCS11_PIN")
	}
	lvl := slog.LevelInfo
	if c.verbose {
		lvl = slog.LevelDebug
	}
	logger, err := obs.NewLogger(stderr, c.logFormat, lvl)
	if err != nil {
		return nil, cli.Usagef("%v", err)
	}
	c.opts.Logger = logger
	return app.Open(ctx, c.opts)
}

// withApp runs f on the opened issuer of an administration command.
func withApp(c *common, f func(cmd *cobra.Command, a *app.App, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		a, err := c.open(cmd.Context(), cmd.ErrOrStderr(), false)
		if err != nil {
			return err
		}
		defer a.Close()
		return f(cmd, a, args)
	}
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
