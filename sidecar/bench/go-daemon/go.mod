module berth.example/bench-go-daemon

go 1.22
