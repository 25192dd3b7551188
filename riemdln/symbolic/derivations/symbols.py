"""The symbols every derivation shares, with the assumptions they are derived under.

Depth ``N`` is a positive real (the closed forms hold for real N >= 1; integer N is the network);
``N_int`` is the integer depth of the defining sums. Squared singular values ``x, y`` and singular
values ``s1, s2, s3`` are positive (full rank); zero is reached by limits.
"""

from sympy import IndexedBase, Symbol, symbols

N = Symbol("N", positive=True)
N_int = Symbol("N", positive=True, integer=True)
k = Symbol("k", positive=True, integer=True)
x, y = symbols("x y", positive=True)
t = Symbol("t", real=True)
h = Symbol("h", positive=True)  # h = 1/N
d = Symbol("d", positive=True, integer=True)
m, n, r = symbols("m n r", positive=True, integer=True)
i, j = symbols("i j", positive=True, integer=True)
s1, s2, s3 = symbols("s1 s2 s3", positive=True)
mu1, mu2, mu3 = symbols("mu1 mu2 mu3", positive=True)
rho1, rho2, rho3 = symbols("rho1 rho2 rho3", real=True)
sigma = IndexedBase("sigma", positive=True)
s = IndexedBase("s", positive=True)
mu = IndexedBase("mu", positive=True)
rho = IndexedBase("rho", real=True)
g = Symbol("g", real=True)  # a diagonal gradient entry (Q^T grad E R)_ii
g_ij, g_ji = symbols("g_ij g_ji", real=True)
s_i, s_j = symbols("s_i s_j", positive=True)
s_scalar = Symbol("s", positive=True)  # one singular value (a scalar formula of s)
rho_scalar = Symbol("rho", real=True)  # one log singular value

S_VALUES = (s1, s2, s3)
MU_VALUES = (mu1, mu2, mu3)
RHO_VALUES = (rho1, rho2, rho3)
