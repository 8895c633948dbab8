package host

import (
	"context"
	"io"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// hclogToSlog returns an hclog logger whose lines (go-plugin's own and the
// driver's stderr lines, which go-plugin re-levels) land in log.
func hclogToSlog(log *slog.Logger, name string, level hclog.Level) hclog.Logger {
	l := hclog.NewInterceptLogger(&hclog.LoggerOptions{Name: name, Output: io.Discard, Level: level})
	l.RegisterSink(slogSink{log: log, level: level})
	return l
}

type slogSink struct {
	log   *slog.Logger
	level hclog.Level
}

// Accept implements hclog.SinkAdapter.
func (s slogSink) Accept(name string, level hclog.Level, msg string, args ...any) {
	if level < s.level {
		return
	}
	var lv slog.Level
	switch {
	case level <= hclog.Debug:
		lv = slog.LevelDebug
	case level == hclog.Info:
		lv = slog.LevelInfo
	case level == hclog.Warn:
		lv = slog.LevelWarn
	default:
		lv = slog.LevelError
	}
	if !s.log.Enabled(context.Background(), lv) {
		return
	}
	attrs := make([]any, 0, len(args)+2)
	attrs = append(attrs, "logger", name)
	attrs = append(attrs, args...)
	s.log.Log(context.Background(), lv, msg, attrs...)
}
