// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @notice Datanets and the Merkle roots of their approved contributions.
/// A record's leaf follows the OpenZeppelin merkle-tree library's standard encoding for a single `bytes32`
/// (the record's content hash): keccak256(bytes.concat(keccak256(abi.encode(recordHash)))).
contract DatanetRegistry is AccessControl {
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");

    /// owner, batchCount and recordCount share one storage slot.
    struct Datanet {
        address owner;
        uint32 batchCount;
        uint64 recordCount;
        bytes32 metadataHash;
        string uri;
    }

    struct Batch {
        bytes32 root;
        uint64 count;
        uint64 anchoredAt;
    }

    /// What is stored per anchored root, in one slot: its batch index + 1 (0: never anchored), so a
    /// root is anchored once per datanet and a retried anchor can find its batch.
    struct RootInfo {
        uint64 batchIndexPlusOne;
        uint64 count;
        uint64 anchoredAt;
    }

    uint256 public datanetCount;
    mapping(uint256 id => Datanet) private _datanets;
    /// One datanet per metadata hash, so a retried create can find the datanet it already made.
    mapping(bytes32 metadataHash => uint256 id) public datanetIdOf;
    mapping(uint256 id => mapping(address validator => bool)) public isValidator;
    mapping(uint256 id => mapping(uint256 batchIndex => bytes32 root)) private _batchRoots;
    mapping(uint256 id => mapping(bytes32 root => RootInfo)) private _roots;

    event DatanetCreated(uint256 indexed datanetId, address indexed owner, bytes32 indexed metadataHash, string uri);
    event ValidatorAdded(uint256 indexed datanetId, address indexed validator);
    event ValidatorRemoved(uint256 indexed datanetId, address indexed validator);
    event ContributionsAnchored(
        uint256 indexed datanetId, uint256 indexed batchIndex, bytes32 root, uint256 count, uint256 totalRecords
    );

    error UnknownDatanet(uint256 datanetId);
    error NotDatanetOwner(uint256 datanetId, address caller);
    error DatanetExists(bytes32 metadataHash, uint256 datanetId);
    error EmptyMetadataHash();
    error ZeroAddress();
    error EmptyBatch();
    error RootAlreadyAnchored(uint256 datanetId, bytes32 root, uint256 batchIndex);

    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    modifier onlyDatanetOwner(uint256 datanetId) {
        address owner = _datanets[datanetId].owner;
        if (owner == address(0)) revert UnknownDatanet(datanetId);
        if (owner != msg.sender) revert NotDatanetOwner(datanetId, msg.sender);
        _;
    }

    /// @notice Creates a datanet owned by the caller; ids start at 1.
    function createDatanet(bytes32 metadataHash, string calldata uri) external returns (uint256 datanetId) {
        if (metadataHash == bytes32(0)) revert EmptyMetadataHash();
        uint256 existing = datanetIdOf[metadataHash];
        if (existing != 0) revert DatanetExists(metadataHash, existing);
        datanetId = ++datanetCount;
        _datanets[datanetId] = Datanet(msg.sender, 0, 0, metadataHash, uri);
        datanetIdOf[metadataHash] = datanetId;
        emit DatanetCreated(datanetId, msg.sender, metadataHash, uri);
    }

    function addValidator(uint256 datanetId, address validator) external onlyDatanetOwner(datanetId) {
        if (validator == address(0)) revert ZeroAddress();
        if (!isValidator[datanetId][validator]) {
            isValidator[datanetId][validator] = true;
            emit ValidatorAdded(datanetId, validator);
        }
    }

    function removeValidator(uint256 datanetId, address validator) external onlyDatanetOwner(datanetId) {
        if (isValidator[datanetId][validator]) {
            isValidator[datanetId][validator] = false;
            emit ValidatorRemoved(datanetId, validator);
        }
    }

    /// @notice Records the Merkle root of a batch of `count` approved records; returns its index.
    function anchorContributions(uint256 datanetId, bytes32 root, uint64 count)
        external
        onlyRole(ANCHORER_ROLE)
        returns (uint256 batchIndex)
    {
        Datanet storage datanet = _datanets[datanetId];
        if (datanet.owner == address(0)) revert UnknownDatanet(datanetId);
        if (count == 0 || root == bytes32(0)) revert EmptyBatch();
        RootInfo storage info = _roots[datanetId][root];
        if (info.batchIndexPlusOne != 0) revert RootAlreadyAnchored(datanetId, root, info.batchIndexPlusOne - 1);
        batchIndex = datanet.batchCount++;
        datanet.recordCount += count;
        _batchRoots[datanetId][batchIndex] = root;
        _roots[datanetId][root] = RootInfo(uint64(batchIndex + 1), count, uint64(block.timestamp));
        emit ContributionsAnchored(datanetId, batchIndex, root, count, datanet.recordCount);
    }

    /// @notice True when `recordHash` is in the batch `batchIndex` of the datanet.
    function verifyRecord(uint256 datanetId, uint256 batchIndex, bytes32 recordHash, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        bytes32 root = _batchRoots[datanetId][batchIndex];
        if (root == bytes32(0)) return false;
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(recordHash))));
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }

    function getDatanet(uint256 datanetId) external view returns (Datanet memory) {
        if (_datanets[datanetId].owner == address(0)) revert UnknownDatanet(datanetId);
        return _datanets[datanetId];
    }

    function getBatch(uint256 datanetId, uint256 batchIndex) external view returns (Batch memory) {
        bytes32 root = _batchRoots[datanetId][batchIndex];
        RootInfo memory info = _roots[datanetId][root];
        return Batch(root, info.count, info.anchoredAt);
    }

    /// @notice (true, index) when `root` was anchored for the datanet.
    function findBatch(uint256 datanetId, bytes32 root) external view returns (bool found, uint256 batchIndex) {
        uint256 plusOne = _roots[datanetId][root].batchIndexPlusOne;
        return plusOne == 0 ? (false, 0) : (true, plusOne - 1);
    }
}
