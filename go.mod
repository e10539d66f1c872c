module github.com/pbxbridge/pbxbridge

go 1.26.0

require (
	github.com/CyCoreSystems/ari/v6 v6.0.0-20251024161400-681c62bc07e7
	github.com/braheezy/shine-mp3 v0.1.0
	github.com/hajimehoshi/go-mp3 v0.3.4
	github.com/labstack/echo/v4 v4.16.0
	github.com/percipia/eslgo v1.5.0
	github.com/redis/go-redis/v9 v9.23.0
	go.etcd.io/bbolt v1.4.3
	golang.org/x/exp v0.0.0-20251023183803-a4bb9ffd2546
	golang.org/x/image v0.24.0
	golang.org/x/net v0.56.0
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/gogo/protobuf v1.3.2 // indirect
	github.com/kr/text v0.2.0 // indirect
	github.com/labstack/gommon v0.5.0 // indirect
	github.com/mattn/go-colorable v0.1.15 // indirect
	github.com/mattn/go-isatty v0.0.22 // indirect
	github.com/oklog/ulid v1.3.1 // indirect
	github.com/rogpeppe/go-internal v1.16.0 // indirect
	github.com/rotisserie/eris v0.5.4 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	github.com/valyala/fasttemplate v1.2.2 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/crypto v0.53.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.40.0 // indirect
)
