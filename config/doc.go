// Package config holds sluice's configuration: the [Config] type, loading
// it from a YAML file, SLUICE_* environment variables and command-line
// flags ([Load]), the defaults, and every check of the values
// ([Config.Validate]).
//
// Where it sits: at the very start of the flow. cmd/sluice (or a Go program
// embedding sluice) calls Load, hands the result to engine.New, and the
// engine turns it into the settings of the sources and the sink. config
// knows nothing of sources, Kafka or the engine: it checks values, never
// connects. Checks that need a server (privileges, server settings, the
// slot) belong to the sources and to `sluice check`.
//
// What it promises:
//   - Everything that can be found wrong from the values alone is found by
//     Load, all problems at once, each naming the setting (key, flag or
//     variable), what was given (never a password) and what to write
//     instead. Only what needs a server, or a file's contents such as the
//     PEM files, is left to the sources, the engine and `sluice check`.
//   - Unknown keys, flags and SLUICE_* variables are never silently
//     accepted: keys and flags are errors, variables warnings
//     ([Config.Warnings]), each with a "did you mean" when one is near.
//   - File errors carry the file name and line.
//   - Secrets ([Secret]) are never printed: not in errors, not by fmt,
//     slog, JSON or YAML.
//
// Load reads files (the config file, password files) and blocks on nothing
// else; it starts no goroutines.
//
// Why a binder of its own rather than koanf or viper: the struct with its
// tags is the single source of every key, flag, variable, default and help
// line, and walking yaml.v3 nodes keeps each value's line for errors, the
// "did you mean" and the secret-safe messages. koanf v2 would need a custom
// provider to keep line numbers, lose them anyway when it unmarshals
// through mapstructure, and keep key and flag lists that duplicate the
// struct.
package config
