"""Every dev row counts in avg_acc: fairseq's default --required-batch-size-multiple 8 would drop
the rows of a last dev batch beyond a multiple of 8, so checkpoints were selected on part of the set."""

from conftest import make_task


def test_dev_set_fully_batched_with_fairseq_default_multiple(tiny):
    task, cfg = make_task(tiny)  # train_args leaves --required-batch-size-multiple at fairseq's default
    assert cfg.dataset.required_batch_size_multiple == 8
    for split in ("valid", "test"):
        task.load_dataset(split)
        dataset = task.dataset(split)
        assert len(dataset) % 8 != 0
        # what fairseq's Trainer.get_valid_iterator passes
        itr = task.get_batch_iterator(dataset, max_sentences=cfg.dataset.batch_size_valid,
                                      max_positions=task.max_positions(),
                                      required_batch_size_multiple=cfg.dataset.required_batch_size_multiple)
        ids = [int(i) for batch in itr.next_epoch_itr(shuffle=False) for i in batch["id"]]
        assert sorted(ids) == list(range(len(dataset)))


def test_training_batches_keep_the_configured_multiple(tiny):
    task, cfg = make_task(tiny, "--batch-size", "20")
    task.load_dataset("train")
    itr = task.get_batch_iterator(task.dataset("train"), max_sentences=20, required_batch_size_multiple=8)
    sizes = [len(b["id"]) for b in itr.next_epoch_itr(shuffle=False)]
    assert 16 in sizes and all(n % 8 == 0 for n in sizes)  # fairseq's own rule, for training only
