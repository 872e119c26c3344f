#!/usr/bin/env bash
# The demo behind `make demo`: four configs of the digits example, tracked by
# `runlab run`, then the runs listed by validation accuracy and the best two
# compared. Expects the virtual environment's bin/ first on PATH.
set -euo pipefail
store="${DEMO_STORE:-experiments/demo}"
config=examples/digits/config.yaml
export RUNLAB_SYSTEM_INTERVAL_S=1

echo "== Training 4 configs of the digits MLP into $store"
for settings in "optim.lr=0.001 model.hidden=[64]" \
                "optim.lr=0.01 model.hidden=[64]" \
                "optim.lr=0.01 model.hidden=[128,64]" \
                "optim.lr=0.1 model.hidden=[32]"; do
  # shellcheck disable=SC2086 # the settings are separate overrides on purpose
  runlab run --store "$store" -c "$config" $settings --tag demo -- \
    python examples/digits/train.py > /dev/null
done

echo
echo "== runlab ls 'tag:demo' --sort -val/acc.max"
runlab ls --store "$store" 'tag:demo' --sort -val/acc.max \
  --columns id,status,duration,optim.lr,model.hidden,val/acc.max,val/loss.min,train/loss.last

best_two=$(runlab ls --store "$store" 'tag:demo' --sort -val/acc.max --limit 2 --csv --columns id | tail -n +2)
echo
echo "== runlab compare" $best_two
# shellcheck disable=SC2086
runlab compare --store "$store" $best_two

echo
echo "== The web page: runlab ui --store $store   (then open the printed URL)"
