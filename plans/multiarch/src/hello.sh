# The program: says which platform it was built for, then the machine it runs on.
echo "hello from multiarch, built for $SHC_TARGET"
uname -m
