#!/bin/sh
# A stand-in for the application that runs on the clones (a reporting database).
# It keeps its "running" state in $LAB/app.state.
state="${LAB:-/tmp/doppel-lab}/app.state"
case "$1" in
    start) echo "reporting database started on the clone devices"; echo running > "$state" ;;
    stop) echo "reporting database stopped"; rm -f "$state" ;;
    check) test -f "$state" ;;
    fsck) shift; echo "fsck of clone devices $*: clean" ;;
    *) echo "usage: app.sh start|stop|check|fsck <devs>" >&2; exit 2 ;;
esac
