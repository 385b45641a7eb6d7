"""Sliding-window reductions against direct loops over the windows."""
import pytest
import torch

from soccerspot.models.sliding import window_count, window_grams, window_maxima, window_sums


@pytest.mark.parametrize("rows, length", [(20, 1), (20, 7), (7, 7), (33, 5)])
def test_reductions_equal_loops_over_windows(rows, length):
    x = torch.randn(rows, 4, dtype=torch.float64)
    windows = [x[j : j + length] for j in range(rows - length + 1)]
    torch.testing.assert_close(window_sums(x, length), torch.stack([w.sum(0) for w in windows]), rtol=0, atol=1e-12)
    assert torch.equal(window_maxima(x, length), torch.stack([w.amax(0) for w in windows]))
    torch.testing.assert_close(window_grams(x, length), torch.stack([w @ w.t() for w in windows]), rtol=0, atol=1e-12)


def test_float32_terms_are_summed_in_float64():
    big = torch.tensor([[1e8], [1.0], [1.0], [-1e8]], dtype=torch.float32)
    assert window_sums(big, 2)[1].item() == 2.0  # float32 cumulative sums would lose the 1s
    assert window_sums(big, 2).dtype == torch.float64


def test_a_run_shorter_than_a_window_is_refused():
    assert window_count(10, 10) == 1
    with pytest.raises(ValueError, match="no window"):
        window_sums(torch.zeros(3, 2), 4)
