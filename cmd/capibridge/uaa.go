package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"capibridge/backend"
	"capibridge/configs"
)

const uaaUsage = `usage: capibridge uaa <command> [flags]

commands:
  rotate-key   add a signing key to the embedded UAA's data dir and make it active;
               tokens signed by the older keys stay valid until they expire
`

// uaaCmd runs `capibridge uaa <command>`: the embedded UAA's upkeep.
func uaaCmd(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("uaa: no command\n%s", uaaUsage)
	}
	switch args[0] {
	case "rotate-key":
		return rotateKey(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, uaaUsage)
		return nil
	}
	return fmt.Errorf("uaa: unknown command %q\n%s", args[0], uaaUsage)
}

func rotateKey(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("uaa rotate-key", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML config file")
	data := fs.String("data", "", "data dir of the embedded Cloud Foundry (default ./capibridge-data)")
	cfg, err := load(fs, args, configPath, func(c *configs.Config) {
		if setFlags(fs)["data"] {
			c.Backend.Data = *data
		}
	})
	if err != nil {
		return err
	}
	kid, err := backend.RotateKey(cfg.Backend)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "capibridge: signing key %s is active in %s; tokens signed by the older keys stay valid until they expire\n",
		kid, cfg.Backend.Data)
	return nil
}
